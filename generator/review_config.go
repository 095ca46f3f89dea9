package generator

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"

	yaml "go.yaml.in/yaml/v4"
)

// LintConfig is the lint section of gatehouse.yaml:
//
//	lint:
//	  fail-on: warning       # error (default), warning, info or off
//	  rules:
//	    http-basic: off      # turn a rule off
//	    scope-unused: error  # or re-grade it
type LintConfig struct {
	FailOn string            `yaml:"fail-on,omitempty"`
	Rules  map[string]string `yaml:"rules,omitempty"`
	// file names where the configuration was read, for errors.
	file string
}

// check refuses unknown rule ids and severities.
func (c LintConfig) check() error {
	where := ConfigFile
	if c.file != "" {
		where = c.file
	}
	if c.FailOn != "" {
		if _, ok := ParseSeverity(c.FailOn); !ok {
			return fmt.Errorf("%s: lint.fail-on is %q; use error, warning, info or off", where, c.FailOn)
		}
	}
	ids := make([]string, 0, len(c.Rules))
	for id := range c.Rules {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		if _, ok := RuleByID(id); !ok {
			return fmt.Errorf("%s: lint.rules names %q, which is not a rule; rules are %s", where, id, ruleIDs())
		}
		if _, ok := ParseSeverity(c.Rules[id]); !ok {
			return fmt.Errorf("%s: lint.rules.%s is %q; use error, warning, info or off", where, id, c.Rules[id])
		}
	}
	return nil
}

// severity is rule id's severity under c.
func (c LintConfig) severity(id string) Severity {
	if s, ok := ParseSeverity(c.Rules[id]); ok && c.Rules[id] != "" {
		return s
	}
	r, _ := RuleByID(id)
	return r.Severity
}

// FailOnSeverity is the configured fail-on level, error by default.
func (c LintConfig) FailOnSeverity() Severity {
	if s, ok := ParseSeverity(c.FailOn); ok && c.FailOn != "" {
		return s
	}
	return SevError
}

// ReadLintConfig reads the lint section of the gatehouse.yaml at path. A
// missing file is no error when optional is set (the default file of the
// working directory). Only the version and the lint section are read, so a
// repository that is not a gatehouse project can keep just these; the lint
// section is decoded strictly.
func ReadLintConfig(path string, optional bool) (LintConfig, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) && optional {
		return LintConfig{}, nil
	}
	if err != nil {
		return LintConfig{}, err
	}
	var head struct {
		Version int       `yaml:"version"`
		Lint    yaml.Node `yaml:"lint"`
	}
	if err := yaml.Unmarshal(data, &head); err != nil {
		return LintConfig{}, fmt.Errorf("%s: %v", path, err)
	}
	if head.Version != 1 {
		return LintConfig{}, fmt.Errorf("%s: version %d is not supported; this gatehouse reads version: 1", path, head.Version)
	}
	cfg := LintConfig{file: path}
	if head.Lint.Kind == 0 {
		return cfg, nil
	}
	section, err := yaml.Marshal(&head.Lint)
	if err != nil {
		return LintConfig{}, fmt.Errorf("%s: %v", path, err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(section))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil {
		return LintConfig{}, fmt.Errorf("%s: lint: %s (the section holds fail-on and rules)", path, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	cfg.file = path
	return cfg, cfg.check()
}
