module github.com/ia3/ia3

go 1.26.0

require (
	github.com/rajveermalviya/go-webgpu/wgpu v0.17.1 // indirect
	github.com/stretchr/testify v1.12.1 // indirect
	golang.org/x/sync v0.25.0 // indirect
)
