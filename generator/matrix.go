package generator

import (
	"encoding/csv"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/gatehouse-go/gatehouse/generator/internal/model"
)

// The access matrix says, for every operation, who may call it: one row
// per alternative (OR), one column per scheme, each cell what that
// alternative asks of the scheme (its scopes or roles, "any" for none, empty
// when the alternative does not use it). `gatehouse lint --matrix` prints it
// and the generated project's README holds it.

// matrixRow is one alternative of one operation.
type matrixRow struct {
	Method, Path, OperationID string
	Access                    string            // "public", "anonymous", or "1/2" for the first of two alternatives
	Cells                     map[string]string // scheme → scopes or "any"
}

// matrixSchemes lists the schemes some operation uses, sorted.
func matrixSchemes(api *model.API) []string {
	var out []string
	for _, op := range api.Operations {
		for _, alt := range op.Security.Alternatives {
			for _, u := range alt {
				out = append(out, u.Scheme)
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func matrixRows(api *model.API) []matrixRow {
	var rows []matrixRow
	for _, op := range api.Operations {
		row := matrixRow{Method: op.Method, Path: op.Path, OperationID: op.OperationID}
		if op.Security.Public() {
			row.Access = "public"
			rows = append(rows, row)
			continue
		}
		n := len(op.Security.Alternatives)
		for i, alt := range op.Security.Alternatives {
			r := row
			r.Cells = map[string]string{}
			if len(alt) == 0 {
				r.Access = "anonymous"
			} else {
				r.Access = fmt.Sprintf("%d/%d", i+1, n)
			}
			for _, u := range alt {
				r.Cells[u.Scheme] = "any"
				if len(u.Scopes) > 0 {
					r.Cells[u.Scheme] = strings.Join(u.Scopes, " ")
				}
			}
			rows = append(rows, r)
		}
	}
	return rows
}

// MatrixMarkdown renders the access matrix of api as a Markdown table,
// with a line that explains it.
func MatrixMarkdown(api *model.API) string {
	schemes := matrixSchemes(api)
	var b strings.Builder
	b.WriteString("| operation | access |")
	for _, s := range schemes {
		fmt.Fprintf(&b, " %s |", mdCell(s))
	}
	b.WriteString("\n|---|---|")
	b.WriteString(strings.Repeat("---|", len(schemes)))
	b.WriteString("\n")
	last := ""
	for _, r := range matrixRows(api) {
		op := "`" + r.Method + " " + r.Path + "`"
		if op == last {
			op = ""
		} else {
			last = op
		}
		fmt.Fprintf(&b, "| %s | %s |", mdCell(op), r.Access)
		for _, s := range schemes {
			cell := r.Cells[s]
			if cell != "" && cell != "any" {
				cell = "`" + cell + "`"
			}
			fmt.Fprintf(&b, " %s |", mdCell(cell))
		}
		b.WriteString("\n")
	}
	b.WriteString("\nOne row per alternative: a caller passes with any one row of its operation, and needs every\n" +
		"scheme of that row (`any`: valid credentials, no scope; otherwise the scopes or roles listed, all of\n" +
		"them). `public`: no credentials are looked at; `anonymous`: the `{}` alternative, so credentials are\n" +
		"optional, but checked when sent.\n")
	return b.String()
}

// mdCell escapes what would end a table cell.
func mdCell(s string) string { return strings.ReplaceAll(s, "|", `\|`) }

// csvText keeps a spreadsheet from reading a cell of the (untrusted) spec
// as a formula: a cell starting with = + - @ or a control character gets a
// leading apostrophe (the OWASP advice on CSV injection).
func csvText(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// WriteMatrixCSV writes the access matrix as CSV (RFC 4180): a header row,
// then one row per alternative, the operation repeated on each.
func WriteMatrixCSV(w io.Writer, api *model.API) error {
	schemes := matrixSchemes(api)
	cw := csv.NewWriter(w)
	if err := cw.Write(append([]string{"method", "path", "operationId", "access"}, mapStrings(schemes, csvText)...)); err != nil {
		return err
	}
	for _, r := range matrixRows(api) {
		rec := []string{r.Method, r.Path, csvText(r.OperationID), r.Access}
		for _, s := range schemes {
			rec = append(rec, csvText(r.Cells[s]))
		}
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

func mapStrings(in []string, f func(string) string) []string {
	out := make([]string, len(in))
	for i, s := range in {
		out[i] = f(s)
	}
	return out
}
