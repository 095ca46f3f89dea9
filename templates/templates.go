// Package templates holds the files gatehouse writes into a project.
//
// The tree under project/ mirrors a generated project. A file whose name ends
// in ".tmpl" is a text/template rendered with the project's data and written
// without that suffix; every other file is copied verbatim. Files and
// directories whose names start with "_" are partial templates: they are
// parsed with the others (so {{template}} and {{block}} can use them) but not
// written on their own.
//
// The runtime under project/internal/auth is ordinary Go source, compiled and
// tested in this repository, and copied into every project.
package templates

import "embed"

// FS is the project tree.
//
//go:embed all:project
var FS embed.FS

// Root is the directory in FS that corresponds to a project's root.
const Root = "project"
