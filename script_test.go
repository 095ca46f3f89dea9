package gatehouse_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
	"github.com/rogpeppe/go-internal/testscript"

	"github.com/gatehouse-go/gatehouse/generator"
	"github.com/gatehouse-go/gatehouse/internal/cli"
)

// updateEnv names the environment variable that rewrites goldens in place.
const updateEnv = "GATEHOUSE_UPDATE"

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"gatehouse": func() { os.Exit(cli.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) },
	})
}

// TestScripts runs the testscript golden runs in testdata/script.
func TestScripts(t *testing.T) {
	root, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	hostEnv := goEnv(t, "GOCACHE", "GOMODCACHE", "GOPROXY", "GOSUMDB", "GOTOOLCHAIN")
	corpus := os.Getenv("GATEHOUSE_CORPUS")
	if corpus == "" {
		corpus = filepath.Join(root, "..", "shared", "corpus", "specs")
	}
	_, corpusErr := os.Stat(corpus)
	// The directory testscript put the gatehouse command in, for scripts
	// that run it with nothing else on the PATH.
	bin, err := exec.LookPath("gatehouse")
	if err != nil {
		t.Fatal(err)
	}
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/script",
		UpdateScripts:       os.Getenv(updateEnv) != "",
		RequireExplicitExec: true,
		RequireUniqueNames:  true,
		Setup: func(env *testscript.Env) error {
			// Share the host's build and module caches so generated
			// projects compile from warm caches and need no network.
			for k, v := range hostEnv {
				env.Setenv(k, v)
			}
			env.Setenv("GOFLAGS", "-mod=readonly")
			env.Setenv("SPECS", filepath.Join(root, "specs"))
			env.Setenv("CORPUS", corpus)
			env.Setenv("GATEHOUSEBIN", filepath.Dir(bin))
			return nil
		},
		Condition: func(cond string) (bool, error) {
			switch cond {
			case "corpus":
				return corpusErr == nil, nil
			case "postgres":
				return postgresCondition()
			case "redis":
				return redisCondition()
			}
			return false, fmt.Errorf("unknown condition %q", cond)
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"cmptree":     cmpTree,
			"keptlines":   keptLines,
			"notemps":     noTemps,
			"mkfifo":      mkfifo,
			"forgedigest": forgeDigest,
			"replace":     replace,
			"pgschema":    pgSchema,
			"redisprefix": redisPrefix,
			"sarifvalid":  sarifValid,
		},
	})
}

// cmpTree compares two directory trees file by file: cmptree DIR1 DIR2.
func cmpTree(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: cmptree dir1 dir2")
	}
	a, b := ts.MkAbs(args[0]), ts.MkAbs(args[1])
	read := func(dir string) map[string][]byte {
		files := map[string][]byte{}
		err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			data, err := os.ReadFile(p)
			rel, _ := filepath.Rel(dir, p)
			files[filepath.ToSlash(rel)] = data
			return err
		})
		ts.Check(err)
		return files
	}
	fa, fb := read(a), read(b)
	var diffs []string
	for p, da := range fa {
		db, ok := fb[p]
		switch {
		case !ok:
			diffs = append(diffs, "only in "+args[0]+": "+p)
		case !bytes.Equal(da, db):
			diffs = append(diffs, "differs: "+p)
		}
	}
	for p := range fb {
		if _, ok := fa[p]; !ok {
			diffs = append(diffs, "only in "+args[1]+": "+p)
		}
	}
	if neg && len(diffs) == 0 {
		ts.Fatalf("trees are identical")
	}
	if !neg && len(diffs) > 0 {
		ts.Fatalf("trees differ:\n%s", strings.Join(diffs, "\n"))
	}
}

// noTemps checks that no gatehouse temporary (a name containing
// ".gatehouse-") is left anywhere below the given directories: notemps DIR...
// forgeDigest records the current digest of a project's generated file in
// its manifest, as a pull request that edits both would: forgedigest DIR
// FILE.
func forgeDigest(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 || neg {
		ts.Fatalf("usage: forgedigest projectdir file")
	}
	dir := ts.MkAbs(args[0])
	m, err := generator.ReadManifest(dir)
	ts.Check(err)
	data, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(args[1])))
	ts.Check(err)
	m.Files[args[1]] = generator.Digest(data)
	ts.Check(os.WriteFile(filepath.Join(dir, filepath.FromSlash(generator.ManifestPath)), m.Encode(), 0o644))
}

func noTemps(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) == 0 || neg {
		ts.Fatalf("usage: notemps dir...")
	}
	for _, dir := range args {
		ts.Check(filepath.WalkDir(ts.MkAbs(dir), func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if strings.Contains(d.Name(), ".gatehouse-") {
				ts.Fatalf("temporary left behind: %s", p)
			}
			return nil
		}))
	}
}

// keptLines checks that every line of the first file appears, unchanged and
// in order, in the second: the second only has lines inserted. With
// -commented, a line may also appear commented out, as gatehouse comments
// out code (see commentedOut).
func keptLines(ts *testscript.TestScript, neg bool, args []string) {
	commented := len(args) == 3 && args[0] == "-commented"
	if commented {
		args = args[1:]
	}
	if len(args) != 2 || neg {
		ts.Fatalf("usage: keptlines [-commented] original edited")
	}
	orig := strings.Split(ts.ReadFile(args[0]), "\n")
	edited := strings.Split(ts.ReadFile(args[1]), "\n")
	i := 0
	for _, line := range edited {
		if i < len(orig) && (line == orig[i] || commented && commentedOut(line, orig[i])) {
			i++
		}
	}
	if i < len(orig) {
		ts.Fatalf("%s lost or changed line %d of %s: %q", args[1], i+1, args[0], orig[i])
	}
}

// commentedOut reports whether line is orig commented out the way gofmt
// keeps it: "// " before the line, or after its indentation (an import in
// a block), or "//" for a blank line.
func commentedOut(line, orig string) bool {
	code := strings.TrimLeft(orig, " \t")
	if code == "" {
		return line == "//"
	}
	indent := orig[:len(orig)-len(code)]
	return line == "// "+orig || line == indent+"// "+code
}

// replace edits a file in place: replace FILE OLD NEW, where OLD must occur
// exactly once. It stands in for a person changing one line.
func replace(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 3 || neg {
		ts.Fatalf("usage: replace file old new")
	}
	data := ts.ReadFile(args[0])
	if n := strings.Count(data, args[1]); n != 1 {
		ts.Fatalf("%s contains %q %d times, want once", args[0], args[1], n)
	}
	ts.Check(os.WriteFile(ts.MkAbs(args[0]), []byte(strings.Replace(data, args[1], args[2], 1)), 0o644))
}

// pgTestURL is the database the scripts that need PostgreSQL use.
func pgTestURL() string {
	if dsn := os.Getenv("GATEHOUSE_TEST_DATABASE_URL"); dsn != "" {
		return dsn
	}
	return "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
}

// postgresCondition is the condition [postgres]: the test database
// answers. When it does not, under GATEHOUSE_REQUIRE_SERVICES=1 the
// condition fails the script instead of letting it skip.
var postgresCondition = sync.OnceValues(func() (bool, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, pgTestURL())
	if err == nil {
		conn.Close(ctx)
		return true, nil
	}
	if os.Getenv("GATEHOUSE_REQUIRE_SERVICES") == "1" {
		return false, fmt.Errorf("PostgreSQL is unreachable (%v); set GATEHOUSE_TEST_DATABASE_URL to one that is, or unset GATEHOUSE_REQUIRE_SERVICES to skip", err)
	}
	return false, nil
})

// pgSchema creates a schema of its own in the test database, sets
// DATABASE_URL to a URL that uses it (with the password not-the-password
// if the test database's URL has none), and drops it when the script ends:
// pgschema. Guard it with [!postgres] skip.
func pgSchema(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 0 || neg {
		ts.Fatalf("usage: pgschema")
	}
	dsn := pgTestURL()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	ts.Check(err)
	defer conn.Close(ctx)
	schema := "gatehouse_script_" + strings.ToLower(rand.Text()[:16])
	_, err = conn.Exec(ctx, "CREATE SCHEMA "+pgx.Identifier{schema}.Sanitize())
	ts.Check(err)
	ts.Defer(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, dsn)
		if err == nil {
			_, err = conn.Exec(ctx, "DROP SCHEMA "+pgx.Identifier{schema}.Sanitize()+" CASCADE")
			conn.Close(ctx)
		}
		ts.Check(err)
	})
	u, err := url.Parse(dsn)
	ts.Check(err)
	if _, ok := u.User.Password(); !ok && u.User != nil {
		// Unused with trust authentication; there for the scripts to
		// check that no log shows it.
		u.User = url.UserPassword(u.User.Username(), "not-the-password")
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	ts.Setenv("DATABASE_URL", u.String())
}

// redisTestURL is the Redis the scripts that need one use.
func redisTestURL() string {
	if u := os.Getenv("GATEHOUSE_TEST_REDIS_URL"); u != "" {
		return u
	}
	return "redis://127.0.0.1:6379/0"
}

// redisCondition is the condition [redis]: the test Redis answers. When it
// does not, under GATEHOUSE_REQUIRE_SERVICES=1 the condition fails the
// script instead of letting it skip.
var redisCondition = sync.OnceValues(func() (bool, error) {
	opts, err := redis.ParseURL(redisTestURL())
	if err != nil {
		return false, fmt.Errorf("GATEHOUSE_TEST_REDIS_URL: %v", err)
	}
	client := redis.NewClient(opts)
	defer client.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = client.Ping(ctx).Err()
	if err == nil {
		return true, nil
	}
	if os.Getenv("GATEHOUSE_REQUIRE_SERVICES") == "1" {
		return false, fmt.Errorf("Redis is unreachable (%v); set GATEHOUSE_TEST_REDIS_URL to one that is, or unset GATEHOUSE_REQUIRE_SERVICES to skip", err)
	}
	return false, nil
})

// redisPrefix sets REDIS_URL to the test Redis and REDIS_KEY_PREFIX to a
// prefix of the script's own, whose keys are deleted when the script
// ends: redisprefix. Guard it with [!redis] skip.
func redisPrefix(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 0 || neg {
		ts.Fatalf("usage: redisprefix")
	}
	prefix := "gatehouse-script-" + strings.ToLower(rand.Text()[:16])
	ts.Defer(func() {
		opts, err := redis.ParseURL(redisTestURL())
		ts.Check(err)
		client := redis.NewClient(opts)
		defer client.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		iter := client.Scan(ctx, 0, prefix+":*", 1000).Iterator()
		for iter.Next(ctx) {
			ts.Check(client.Del(ctx, iter.Val()).Err())
		}
		ts.Check(iter.Err())
	})
	ts.Setenv("REDIS_URL", redisTestURL())
	ts.Setenv("REDIS_KEY_PREFIX", prefix)
}

func goEnv(t *testing.T, names ...string) map[string]string {
	out, err := exec.Command("go", append([]string{"env"}, names...)...).Output()
	if err != nil {
		t.Fatalf("go env: %v", err)
	}
	lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	env := map[string]string{}
	for i, name := range names {
		if i < len(lines) && lines[i] != "" {
			env[name] = lines[i]
		}
	}
	return env
}
