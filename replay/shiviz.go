package replay

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
)

// ShiVizRegex is the first line of a ShiViz log written by WriteShiViz: the
// regular expression (with named groups host, clock and event) that
// ShiViz parses each two-line event with.
const ShiVizRegex = `(?<host>\S*) (?<clock>{.*})\n(?<event>.*)`

// WriteShiViz writes the recording as a ShiViz log (the format GoVector
// writes): the parser's regular expression on the first line, an empty
// line (one execution, no delimiter), then per trace event a line
// `HOST {"HOST":n,...}` with the event's vector clock and a line with the
// event's text (index, time, node, kind, peer, body, escaped onto one
// line). Hosts are the timeline's lanes; a host's own entry grows by one
// per event, a send carries the sender's clock and a delivery merges it, so
// ShiViz draws every delivered message. Drops are local events of the node
// where the message died.
func (r *Recording) WriteShiViz(w io.Writer) error {
	tl := r.Timeline()
	bw := bufio.NewWriterSize(w, 64<<10)
	fmt.Fprintf(bw, "%s\n\n", ShiVizRegex)
	hosts := make([]string, len(tl.Lanes))
	for i, l := range tl.Lanes {
		hosts[i] = shivizHost(l)
	}
	clocks := make([]map[string]int, len(tl.Lanes))
	for i := range clocks {
		clocks[i] = map[string]int{}
	}
	// sendClock holds, per message row of a send, the sender's clock then.
	from := make(map[int]int, len(tl.Msgs)) // delivery row -> send row
	for _, m := range tl.Msgs {
		if m.Fate == MsgDelivered && m.Send >= 0 {
			from[m.End] = m.Send
		}
	}
	sent := map[int]map[string]int{}
	for row, e := range r.Events {
		l := tl.Lane[row]
		c := clocks[l]
		if s, ok := from[row]; ok {
			for h, v := range sent[s] {
				if v > c[h] {
					c[h] = v
				}
			}
			delete(sent, s)
		}
		c[hosts[l]]++
		if e.Kind == "send" {
			cp := make(map[string]int, len(c))
			for h, v := range c {
				cp[h] = v
			}
			sent[row] = cp
		}
		b, err := json.Marshal(c) // keys sorted: deterministic
		if err != nil {
			return err
		}
		fmt.Fprintf(bw, "%s %s\n%s\n", hosts[l], b, FormatEvent(e))
	}
	return bw.Flush()
}
