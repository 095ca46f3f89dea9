// Command gatehouse generates a Go API server project from an OpenAPI spec.
package main

import (
	"os"

	"github.com/gatehouse-go/gatehouse/internal/cli"
)

func main() { os.Exit(cli.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) }
