package generator

import (
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"path/filepath"
	"strings"
)

// WriteText writes the review for a terminal: a summary line, the findings
// grouped by severity, every operation's effective security, then the
// rationale of each rule that fired.
func (r *Review) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %d operations, %d security schemes: %s\n", r.Spec, len(r.API.Operations), len(r.API.Schemes), r.counts())
	fired := map[string]bool{}
	for _, sev := range []Severity{SevError, SevWarning, SevInfo} {
		if r.Count(sev) == 0 {
			continue
		}
		fmt.Fprintf(&b, "\n%s:\n", plural(sev))
		for _, f := range r.Findings {
			if f.Severity == sev {
				fmt.Fprintf(&b, "  %s: %s: %s\n", f.Pos, f.Rule, f.Message)
				fired[f.Rule] = true
			}
		}
	}
	if len(r.API.Operations) > 0 {
		b.WriteString("\nsecurity of each operation:\n")
		for _, op := range r.API.Operations {
			fmt.Fprintf(&b, "  %s %s: %s\n", op.Method, op.Path, op.Security)
		}
	}
	if len(fired) > 0 {
		b.WriteString("\nwhy:\n")
		for _, rule := range Rules {
			if fired[rule.ID] {
				fmt.Fprintf(&b, "  %s: %s\n", rule.ID, rule.Rationale)
			}
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func plural(s Severity) string {
	switch s {
	case SevError:
		return "errors"
	case SevWarning:
		return "warnings"
	}
	return "info"
}

func (r *Review) counts() string {
	n := func(k int, one, many string) string {
		if k == 1 {
			return "1 " + one
		}
		return fmt.Sprintf("%d %s", k, many)
	}
	return fmt.Sprintf("%s, %s, %s", n(r.Count(SevError), "error", "errors"), n(r.Count(SevWarning), "warning", "warnings"), n(r.Count(SevInfo), "info", "info"))
}

type jsonFinding struct {
	Rule      string `json:"rule"`
	Severity  string `json:"severity"`
	File      string `json:"file"`
	Line      int    `json:"line,omitempty"`
	Column    int    `json:"column,omitempty"`
	Operation string `json:"operation,omitempty"`
	Message   string `json:"message"`
}

type jsonRule struct {
	ID        string `json:"id"`
	Severity  string `json:"severity"`
	Summary   string `json:"summary"`
	Rationale string `json:"rationale"`
}

// WriteJSON writes the review as one JSON object: the spec, counts per
// severity, the findings, and the rules that fired.
func (r *Review) WriteJSON(w io.Writer) error {
	out := struct {
		Spec     string         `json:"spec"`
		Counts   map[string]int `json:"counts"`
		Findings []jsonFinding  `json:"findings"`
		Rules    []jsonRule     `json:"rules"`
	}{Spec: r.Spec, Counts: map[string]int{}, Findings: []jsonFinding{}, Rules: []jsonRule{}}
	fired := map[string]bool{}
	for _, sev := range []Severity{SevError, SevWarning, SevInfo} {
		out.Counts[sev.String()] = r.Count(sev)
	}
	for _, f := range r.Findings {
		out.Findings = append(out.Findings, jsonFinding{Rule: f.Rule, Severity: f.Severity.String(), File: filepath.ToSlash(f.Pos.File), Line: f.Pos.Line, Column: f.Pos.Col, Operation: f.Route, Message: f.Message})
		fired[f.Rule] = true
	}
	for _, rule := range Rules {
		if fired[rule.ID] {
			out.Rules = append(out.Rules, jsonRule{rule.ID, rule.Severity.String(), rule.Summary, rule.Rationale})
		}
	}
	return writeJSON(w, out)
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// SARIF 2.1.0, as GitHub code scanning reads it.
type sarifLog struct {
	Schema  string     `json:"$schema"`
	Version string     `json:"version"`
	Runs    []sarifRun `json:"runs"`
}

type sarifRun struct {
	Tool    sarifTool     `json:"tool"`
	Results []sarifResult `json:"results"`
}

type sarifTool struct {
	Driver sarifDriver `json:"driver"`
}

type sarifDriver struct {
	Name           string      `json:"name"`
	InformationURI string      `json:"informationUri"`
	Rules          []sarifRule `json:"rules"`
}

type sarifText struct {
	Text string `json:"text"`
}

type sarifRule struct {
	ID                   string         `json:"id"`
	Name                 string         `json:"name"`
	ShortDescription     sarifText      `json:"shortDescription"`
	FullDescription      sarifText      `json:"fullDescription"`
	Help                 sarifText      `json:"help"`
	DefaultConfiguration sarifConfig    `json:"defaultConfiguration"`
	Properties           map[string]any `json:"properties"`
}

type sarifConfig struct {
	Level string `json:"level"`
}

type sarifResult struct {
	RuleID    string          `json:"ruleId"`
	RuleIndex int             `json:"ruleIndex"`
	Level     string          `json:"level"`
	Message   sarifText       `json:"message"`
	Locations []sarifLocation `json:"locations"`
}

type sarifLocation struct {
	PhysicalLocation sarifPhysical `json:"physicalLocation"`
}

type sarifPhysical struct {
	ArtifactLocation struct {
		URI string `json:"uri"`
	} `json:"artifactLocation"`
	Region *sarifRegion `json:"region,omitempty"`
}

type sarifRegion struct {
	StartLine   int `json:"startLine"`
	StartColumn int `json:"startColumn,omitempty"`
}

func sarifLevel(s Severity) string {
	switch s {
	case SevError:
		return "error"
	case SevWarning:
		return "warning"
	}
	return "note"
}

// securitySeverity is GitHub's security-severity score per default
// severity: high, medium, low.
var securitySeverity = map[Severity]string{SevError: "7.5", SevWarning: "5.0", SevInfo: "2.0"}

// WriteSARIF writes the review as a SARIF 2.1.0 log: every rule in the
// driver, every finding a result located in the spec. File paths are
// written as given (relative to where lint runs, which for code scanning is
// the repository root), with forward slashes.
func (r *Review) WriteSARIF(w io.Writer) error {
	run := sarifRun{Tool: sarifTool{Driver: sarifDriver{Name: "gatehouse", InformationURI: "https://github.com/gatehouse-go/gatehouse"}}, Results: []sarifResult{}}
	index := map[string]int{}
	for i, rule := range Rules {
		index[rule.ID] = i
		run.Tool.Driver.Rules = append(run.Tool.Driver.Rules, sarifRule{
			ID:                   rule.ID,
			Name:                 sarifName(rule.ID),
			ShortDescription:     sarifText{rule.Summary},
			FullDescription:      sarifText{rule.Rationale},
			Help:                 sarifText{rule.Summary + ". " + rule.Rationale},
			DefaultConfiguration: sarifConfig{sarifLevel(rule.Severity)},
			Properties:           map[string]any{"tags": []string{"security", "openapi"}, "security-severity": securitySeverity[rule.Severity]},
		})
	}
	for _, f := range r.Findings {
		res := sarifResult{RuleID: f.Rule, RuleIndex: index[f.Rule], Level: sarifLevel(f.Severity), Message: sarifText{f.Message}}
		var loc sarifLocation
		file := f.Pos.File
		if file == "" {
			file = r.Spec
		}
		loc.PhysicalLocation.ArtifactLocation.URI = sarifURI(file)
		if f.Pos.Line > 0 {
			loc.PhysicalLocation.Region = &sarifRegion{StartLine: f.Pos.Line, StartColumn: f.Pos.Col}
		}
		res.Locations = []sarifLocation{loc}
		run.Results = append(run.Results, res)
	}
	return writeJSON(w, sarifLog{Schema: "https://json.schemastore.org/sarif-2.1.0.json", Version: "2.1.0", Runs: []sarifRun{run}})
}

// sarifURI writes a file path as a URI reference: slashes, escaped where
// a URI needs it, and a relative path without its leading "./".
func sarifURI(p string) string {
	p = filepath.ToSlash(filepath.Clean(p))
	if strings.HasPrefix(p, "/") {
		return (&url.URL{Scheme: "file", Path: p}).String()
	}
	return (&url.URL{Path: p}).String()
}

// sarifName makes a rule id a PascalCase name ("state-change-public" →
// "StateChangePublic").
func sarifName(id string) string {
	parts := strings.Split(id, "-")
	for i, p := range parts {
		if p != "" {
			parts[i] = strings.ToUpper(p[:1]) + p[1:]
		}
	}
	return strings.Join(parts, "")
}
