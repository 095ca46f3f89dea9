package generator

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"

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
}

// ReadConfig reads and strictly decodes dir/gatehouse.yaml: the version
// first, then every field, rejecting unknown ones.
func ReadConfig(dir string) (*Config, []byte, error) {
	p := filepath.Join(dir, ConfigFile)
	data, err := os.ReadFile(p)
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
	return &cfg, data, nil
}
