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
//
// A built-in template other than "full" is an overlay: overlays/NAME holds
// the files that differ from the project tree.
package templates

import "embed"

// FS holds the project tree and the template overlays.
//
//go:embed all:project all:overlays
var FS embed.FS

// Root is the directory in FS that corresponds to a project's root: the
// "full" template.
const Root = "project"

// Overlays is the directory in FS holding one directory per other built-in
// template. Its files replace the project tree's files of the same path, or
// are added to it.
const Overlays = "overlays"
