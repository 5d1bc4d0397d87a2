//go:build tools

// Package tools pins Helm, built by tools/build.sh for the chart's lint and template tests.
package tools

import _ "helm.sh/helm/v3/cmd/helm"
