module github.com/smilingraft/dsim

go 1.26.8

require pgregory.net/rapid v1.3.0

require (
	github.com/anishathalye/porcupine v1.3.1 // indirect
	github.com/google/go-cmp v0.7.0 // indirect
)
