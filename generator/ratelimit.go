package generator

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	yaml "go.yaml.in/yaml/v4"

	"github.com/gatehouse-go/gatehouse/generator/internal/model"
	"github.com/gatehouse-go/gatehouse/generator/internal/spec"
)

// RateLimitExtension is the operation extension that sets an operation's
// request rate limit in the spec.
const RateLimitExtension = "x-gatehouse-rate-limit"

// RateLimits is the rate_limits section of gatehouse.yaml: the default
// limit of every operation (RATE_LIMIT overrides it at run time when set)
// and overrides by tag and by operation (its operationId, or "METHOD
// /path"). Each limit is "COUNT/PERIOD", optionally followed by
// " burst N", or "none".
type RateLimits struct {
	Default    string            `yaml:"default"`
	Tags       map[string]string `yaml:"tags"`
	Operations map[string]string `yaml:"operations"`

	// pos are the places of the values in gatehouse.yaml,
	// "FILE:LINE:COL", by "default", "tags.NAME" and "operations.NAME".
	pos map[string]string
}

// at returns where the value of key is in gatehouse.yaml.
func (rl *RateLimits) at(key string) string {
	if p := rl.pos[key]; p != "" {
		return p
	}
	return ConfigFile
}

// checkRateLimits checks the syntax of every limit of cfg.RateLimits and
// records where each is, for the errors Generate reports about the spec's
// operations and tags.
func checkRateLimits(dir string, cfg *Config, data []byte) error {
	rl := cfg.RateLimits
	if rl == nil {
		return nil
	}
	rl.pos = map[string]string{}
	file := filepath.Join(dir, ConfigFile)
	var doc yaml.Node
	if yaml.Unmarshal(data, &doc) == nil && len(doc.Content) > 0 {
		if sec := mappingValue(doc.Content[0], "rate_limits"); sec != nil {
			at := func(n *yaml.Node) string { return fmt.Sprintf("%s:%d:%d", file, n.Line, n.Column) }
			if n := mappingValue(sec, "default"); n != nil {
				rl.pos["default"] = at(n)
			}
			for _, group := range []string{"tags", "operations"} {
				m := mappingValue(sec, group)
				if m == nil || m.Kind != yaml.MappingNode {
					continue
				}
				for i := 0; i+1 < len(m.Content); i += 2 {
					// The key's place: an unknown name is the key's fault.
					rl.pos[group+"."+m.Content[i].Value] = at(m.Content[i])
					rl.pos[group+"."+m.Content[i].Value+"="] = at(m.Content[i+1])
				}
			}
		}
	}
	check := func(key, value string) error {
		if err := parseRateLimit(value); err != nil {
			return fmt.Errorf("%s: rate_limits.%s: %v", rl.at(key), strings.TrimSuffix(key, "="), err)
		}
		return nil
	}
	if rl.Default != "" {
		if err := check("default", rl.Default); err != nil {
			return err
		}
	}
	for _, group := range []struct {
		name string
		m    map[string]string
	}{{"tags", rl.Tags}, {"operations", rl.Operations}} {
		for _, k := range sortedKeys(group.m) {
			if err := check(group.name+"."+k+"=", group.m[k]); err != nil {
				return err
			}
		}
	}
	return nil
}

func mappingValue(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

// parseRateLimit checks a limit as the runtime's auth.ParseRateLimit reads
// it (the two are tested against the same cases).
func parseRateLimit(s string) error {
	s = strings.TrimSpace(s)
	if strings.EqualFold(s, "none") {
		return nil
	}
	bad := func(why string) error {
		return fmt.Errorf("%q %s; write COUNT/PERIOD with an optional burst, such as 600/1m or 10/s burst 50, or none", s, why)
	}
	fields := strings.Fields(s)
	if len(fields) != 1 && (len(fields) != 3 || !strings.EqualFold(fields[1], "burst")) {
		return bad("is not a rate limit")
	}
	count, period, ok := strings.Cut(fields[0], "/")
	if !ok {
		return bad("has no /PERIOD")
	}
	if n, err := strconv.Atoi(count); err != nil || n < 1 || n > 1_000_000 {
		return bad("has a count that is not a whole number from 1 to 1000000")
	}
	switch period {
	case "s", "m", "h":
		period = "1" + period
	}
	if d, err := time.ParseDuration(period); err != nil || d < time.Second || d > 24*time.Hour {
		return bad("has a period that is not a duration from 1s to 24h")
	}
	if len(fields) == 3 {
		if b, err := strconv.Atoi(fields[2]); err != nil || b < 1 || b > 1_000_000 {
			return bad("has a burst that is not a whole number from 1 to 1000000")
		}
	}
	return nil
}

// rateLimitData is what the routes' templates know of rate limits: the
// default, the policies of the overrides (sorted by name), and per
// operation its policy (opData.RateLimit).
type rateLimitData struct {
	Default  string
	Policies []rateLimitPolicy
}

type rateLimitPolicy struct{ Name, Limit string }

// Policy names the runtime reserves.
var reservedRateLimitPolicies = map[string]bool{"default": true, "token": true, "address": true}

// resolveRateLimits gives each operation its rate limit policy. An
// operation's limit is, first found: gatehouse.yaml's operations entry
// (by operationId or "METHOD /path"), the spec's x-gatehouse-rate-limit,
// gatehouse.yaml's entry of its first tag that has one, else the default.
// An operation with its own limit is its own policy (named by its
// operationId, else "METHOD /path"); the operations of a tag limit share the
// tag's ("tag:NAME"). Names in gatehouse.yaml that match no operation or
// tag are errors, located there.
func resolveRateLimits(doc *spec.Doc, api *model.API, cfg *RateLimits) (rateLimitData, []string, error) {
	var d rateLimitData
	policies := make([]string, len(api.Operations))
	limits := map[string]string{}
	var yml RateLimits
	if cfg != nil {
		yml = *cfg
		d.Default = cfg.Default
	}
	usedOps, tags := map[string]bool{}, map[string]bool{}
	for i, op := range api.Operations {
		route := op.Method + " " + op.Path
		name := op.OperationID
		if name == "" || reservedRateLimitPolicies[name] {
			name = route
		}
		limit, ok := "", false
		for _, k := range []string{op.OperationID, route} {
			if v, found := yml.Operations[k]; found && k != "" {
				limit, ok = v, true
				usedOps[k] = true
				break
			}
		}
		if !ok {
			if v, found, err := specRateLimit(doc, op); err != nil {
				return d, nil, err
			} else if found {
				limit, ok = v, true
			}
		}
		for _, t := range op.Tags {
			tags[t] = true
			if v, found := yml.Tags[t]; found && !ok {
				name, limit, ok = "tag:"+t, v, true
			}
		}
		if !ok {
			policies[i] = "default"
			continue
		}
		limits[name] = limit
		policies[i] = name
	}
	for _, k := range sortedKeys(yml.Operations) {
		if !usedOps[k] {
			return d, nil, fmt.Errorf("%s: rate_limits.operations: %q is not an operation of the spec; name one by its operationId or as \"METHOD /path\"", cfg.at("operations."+k), k)
		}
	}
	for _, k := range sortedKeys(yml.Tags) {
		if !tags[k] {
			return d, nil, fmt.Errorf("%s: rate_limits.tags: %q is not a tag of any operation of the spec", cfg.at("tags."+k), k)
		}
	}
	for _, k := range sortedKeys(limits) {
		d.Policies = append(d.Policies, rateLimitPolicy{Name: k, Limit: strings.TrimSpace(limits[k])})
	}
	return d, policies, nil
}

// specRateLimit reads the operation's x-gatehouse-rate-limit.
func specRateLimit(doc *spec.Doc, op model.Operation) (string, bool, error) {
	item := doc.T.Paths.Value(op.Path)
	if item == nil {
		return "", false, nil
	}
	o := item.GetOperation(op.Method)
	if o == nil || o.Extensions == nil {
		return "", false, nil
	}
	v, ok := o.Extensions[RateLimitExtension]
	if !ok {
		return "", false, nil
	}
	pos := doc.Locate("paths", op.Path, strings.ToLower(op.Method), RateLimitExtension)
	s, isString := v.(string)
	if !isString {
		return "", false, spec.Errorf(pos, "%s must be a string such as \"10/1m\", \"10/s burst 50\" or \"none\"", RateLimitExtension)
	}
	if err := parseRateLimit(s); err != nil {
		return "", false, spec.Errorf(pos, "%s: %v", RateLimitExtension, err)
	}
	return s, true, nil
}
