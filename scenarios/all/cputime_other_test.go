//go:build !unix

package all_test

// processCPU is unavailable here: CPU metrics read 0.
func processCPU() int64 { return 0 }
