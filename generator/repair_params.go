package generator

import (
	"regexp"
	"slices"

	"github.com/oapi-codegen/oapi-codegen/v2/pkg/codegen"
)

// reservedVariables are the names oapi-codegen's generated functions use
// for their own purposes where a path parameter becomes a Go variable (the
// typed client's request builders and methods, the strict server's
// handlers, the net/http wrappers): the packages they call (a parameter
// named url hides net/url from url.Parse), their own variables and
// arguments, and Go's predeclared identifiers.
var reservedVariables = map[string]bool{
	// Packages imported by api_gen.go.
	"bytes": true, "context": true, "fmt": true, "http": true, "io": true,
	"json": true, "runtime": true, "strings": true, "url": true, "yaml": true,
	"time": true, "gzip": true, "base64": true, "path": true, "errors": true,
	"openapi3": true, "openapi_types": true, "sort": true, "mime": true,
	"multipart": true,
	// Variables and arguments of the generated functions.
	"server": true, "serverURL": true, "operationPath": true, "queryURL": true,
	"queryValues": true, "rawQueryFragments": true, "req": true, "rsp": true,
	"err": true, "body": true, "bodyReader": true, "bodyBytes": true,
	"buf": true, "params": true, "contentType": true, "param": true, "qp": true,
	"ok": true, "encoded": true, "stringer": true, "ctx": true, "c": true,
	"reqEditors": true, "response": true, "dest": true, "w": true, "r": true,
	"request": true, "handler": true, "sh": true, "siw": true, "f": true,
	"middleware": true, "validResponse": true,
	// Predeclared identifiers.
	"any": true, "bool": true, "byte": true, "error": true, "float32": true,
	"float64": true, "int": true, "int8": true, "int16": true, "int32": true,
	"int64": true, "rune": true, "string": true, "uint": true, "uint8": true,
	"uint16": true, "uint32": true, "uint64": true, "uintptr": true,
	"append": true, "cap": true, "clear": true, "close": true, "copy": true,
	"delete": true, "len": true, "make": true, "max": true, "min": true,
	"new": true, "nil": true, "panic": true, "true": true, "false": true,
	"iota": true, "print": true, "println": true, "recover": true,
}

// pathVariable gives a path parameter whose Go variable name (the
// lower-cased Go name oapi-codegen declares it as) is one the generated
// functions use for something else a Go name of its own: a parameter
// named url hides the package net/url in the typed client's request
// builder, where url.Parse(server) then does not compile. The wire name
// does not change; the field of the handler's request object does (Url
// becomes UrlParam), which the warning says.
func (r *repairer) pathVariable(path []string, p tree) {
	if in, _ := p["in"].(string); in != "path" {
		return
	}
	if _, ok := p["x-go-name"]; ok {
		return
	}
	name, _ := p["name"].(string)
	if name == "" || hasIllegalChar(name) {
		return
	}
	goName := codegen.SchemaNameToTypeName(name)
	variable := codegen.LowercaseFirstCharacters(goName)
	if !reservedVariables[variable] && !generatedIndexedRE.MatchString(variable) {
		return
	}
	p["x-go-name"] = goName + "Param"
	r.add(false, append(slices.Clone(path), "name"), "path parameter %q: Go name %sParam, because oapi-codegen's generated functions use the name %s for their own purposes (a package or a variable of theirs); the wire name does not change", name, goName, variable)
}

// generatedIndexedRE matches the numbered variables of the client's
// request builders (pathParam0, pathParamBuf1, headerParam2).
var generatedIndexedRE = regexp.MustCompile(`^(pathParamBuf|pathParam|headerParam|cookieParam)[0-9]+$`)
