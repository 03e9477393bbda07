// Command selftest exercises package cover inside a binary built with
// go build -cover -covermode=atomic -coverpkg=github.com/smilingraft/dsim/cover,<this package>
// (cover's TestMeasure builds and runs it): it prints one line per check.
package main

import (
	"fmt"
	"os"

	"github.com/smilingraft/dsim/cover"
)

func main() {
	if err := cover.Check(); err != nil {
		fmt.Println("check:", err)
		os.Exit(1)
	}
	tab, _ := cover.Blocks()
	insert := -1
	for i, b := range tab.Blocks {
		if b.Func == "*Set.Insert" {
			insert = i
			break
		}
	}
	p1, err := cover.Measure(func() {
		var s cover.Set
		s.Insert(1)
	})
	if err != nil {
		fmt.Println("measure:", err)
		os.Exit(1)
	}
	p2, err := cover.Measure(func() {})
	if err != nil {
		fmt.Println("measure:", err)
		os.Exit(1)
	}
	var seen cover.Set
	seen.Add(p2)
	fmt.Println("blocks", len(tab.Blocks), "packages", len(tab.Packages), "mode", tab.Mode)
	fmt.Println("new", p1.NewBlocks(&seen))
	has := func(p *cover.Profile) bool {
		for _, h := range p.Hits {
			if int(h.Block) == insert {
				return true
			}
		}
		return false
	}
	fmt.Println("insert", insert >= 0 && has(p1), "after-reset", has(p2))
}
