package generator

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	yaml "go.yaml.in/yaml/v4"
)

// ConfigFile is the name of a project's configuration file.
const ConfigFile = "gatehouse.yaml"

// Config is gatehouse.yaml, version 1. Its JSON schema is
// schema/gatehouse.v1.json in the gatehouse repository.
type Config struct {
	Version  int    `yaml:"version"`
	Spec     string `yaml:"spec"`     // project-relative path of the spec
	Module   string `yaml:"module"`   // the project's Go module path
	Template string `yaml:"template"` // built-in template name, or a directory
	// Strict refuses what gatehouse would repair or degrade in the spec.
	Strict bool `yaml:"strict"`
	// Lint configures gatehouse lint (review_config.go).
	Lint *LintConfig `yaml:"lint,omitempty"`
	// RateLimits are the operations' request rate limits (nil: the
	// runtime's default for all).
	RateLimits *RateLimits `yaml:"rate_limits"`
}

// ReadConfig reads and strictly decodes dir/gatehouse.yaml: the version
// first, then every field, rejecting unknown ones.
func ReadConfig(dir string) (*Config, []byte, error) {
	p := filepath.Join(dir, ConfigFile)
	data, err := ReadProjectFile(dir, ConfigFile)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil, fmt.Errorf("%s not found; run gatehouse generate in a project made by gatehouse new, or pass -C DIR", p)
	}
	if err != nil {
		return nil, nil, err
	}
	var head struct {
		Version int `yaml:"version"`
	}
	if err := yaml.Unmarshal(data, &head); err != nil {
		return nil, nil, fmt.Errorf("%s: %v", p, err)
	}
	if head.Version != 1 {
		return nil, nil, fmt.Errorf("%s: version %d is not supported; this gatehouse reads version: 1", p, head.Version)
	}
	var cfg Config
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil {
		return nil, nil, fmt.Errorf("%s: %v", p, err)
	}
	switch {
	case cfg.Spec == "":
		return nil, nil, fmt.Errorf("%s: spec is missing; set it to the spec's path, e.g. api/openapi.yaml", p)
	case cfg.Module == "":
		return nil, nil, fmt.Errorf("%s: module is missing; set it to the module path in go.mod", p)
	}
	if cfg.Template == "" {
		cfg.Template = "full"
	}
	if err := checkConfigPaths(dir, &cfg, data); err != nil {
		return nil, nil, err
	}
	if err := checkRateLimits(dir, &cfg, data); err != nil {
		return nil, nil, err
	}
	return &cfg, data, nil
}

// checkConfigPaths applies the rule for the paths gatehouse.yaml names: the
// spec is a regular file and a template override directory a directory,
// both inside the project, symbolic links included. A template directory
// shared between projects is copied into the project by gatehouse new.
func checkConfigPaths(dir string, cfg *Config, data []byte) error {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	check := func(field, value string, wantDir bool) error {
		what, fix := "the spec", "copy the spec into the project (e.g. api/openapi.yaml) and set spec to its path"
		if wantDir {
			what, fix = "a template directory", "copy the directory into the project (e.g. .gatehouse/template) and set template to its path"
		}
		at := configPos(dir, data, field)
		if filepath.IsAbs(value) || !filepath.IsLocal(filepath.FromSlash(value)) || strings.Contains(value, "\\") {
			return fmt.Errorf("%s: %s %q is not a relative path inside the project; gatehouse reads only files of the project: %s", at, field, value, fix)
		}
		info, err := root.Stat(value)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return fmt.Errorf("%s: %s %q does not exist; set %s to the path of %s in the project", at, field, value, field, what)
		case escapes(err):
			how := "through a symbolic link"
			if link, target, ok := escapingLink(root, value); ok {
				how = fmt.Sprintf("(%s is a symbolic link to %s)", link, target)
			}
			return fmt.Errorf("%s: %s %q leads outside the project %s; gatehouse reads only files of the project: %s", at, field, value, how, fix)
		case err != nil:
			return fmt.Errorf("%s: %s %q: %v", at, field, value, err)
		case wantDir && !info.IsDir():
			return fmt.Errorf("%s: template %q is neither a built-in template (%s) nor a directory", at, value, strings.Join(BuiltinTemplateNames(), ", "))
		case !wantDir && !info.Mode().IsRegular():
			return fmt.Errorf("%s: spec %q is not a regular file; set spec to the path of the spec file in the project", at, value)
		}
		return nil
	}
	if err := check("spec", cfg.Spec, false); err != nil {
		return err
	}
	if !IsBuiltinTemplate(cfg.Template) {
		return check("template", cfg.Template, true)
	}
	return nil
}

// configPos returns "DIR/gatehouse.yaml:LINE:COL" for the value of field,
// or the file name alone when it cannot be found.
func configPos(dir string, data []byte, field string) string {
	p := filepath.Join(dir, ConfigFile)
	var doc yaml.Node
	if yaml.Unmarshal(data, &doc) != nil || len(doc.Content) == 0 {
		return p
	}
	m := doc.Content[0]
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == field {
			return fmt.Sprintf("%s:%d:%d", p, m.Content[i+1].Line, m.Content[i+1].Column)
		}
	}
	return p
}
