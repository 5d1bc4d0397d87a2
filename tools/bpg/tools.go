//go:build tools

// Package tools pins the bpg/proxmox Terraform provider so `go build` can produce it.
package tools

import _ "github.com/bpg/terraform-provider-proxmox"
