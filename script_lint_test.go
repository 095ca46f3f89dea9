package gatehouse_test

import (
	"os"
	"path/filepath"

	"github.com/rogpeppe/go-internal/testscript"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

// sarifSchema is the OASIS SARIF 2.1.0 JSON schema, vendored as published
// (Schemata/sarif-schema-2.1.0.json of oasis-tcs/sarif-spec).
var sarifSchema, _ = filepath.Abs(filepath.Join("testdata", "sarif", "sarif-schema-2.1.0.json"))

// sarifValid validates a file against the SARIF 2.1.0 schema: sarifvalid FILE.
func sarifValid(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: sarifvalid FILE")
	}
	f, err := os.Open(sarifSchema)
	ts.Check(err)
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	ts.Check(err)
	c := jsonschema.NewCompiler()
	ts.Check(c.AddResource("sarif-schema-2.1.0.json", doc))
	sch, err := c.Compile("sarif-schema-2.1.0.json")
	ts.Check(err)
	in, err := os.Open(ts.MkAbs(args[0]))
	ts.Check(err)
	defer in.Close()
	inst, err := jsonschema.UnmarshalJSON(in)
	if err == nil {
		err = sch.Validate(inst)
	}
	switch {
	case err != nil && !neg:
		ts.Fatalf("%s is not valid SARIF 2.1.0: %v", args[0], err)
	case err == nil && neg:
		ts.Fatalf("%s is valid SARIF 2.1.0", args[0])
	}
}
