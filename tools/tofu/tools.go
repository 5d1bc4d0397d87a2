//go:build tools

// Package tools pins OpenTofu so `go build` can produce the tofu binary.
package tools

import _ "github.com/opentofu/opentofu/cmd/tofu"
