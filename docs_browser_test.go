package gatehouse_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/gatehouse-go/gatehouse/internal/cli"
)

// requireServicesEnv makes a missing service (here: Chromium) a failure
// instead of a skip, as CI runs.
const requireServicesEnv = "GATEHOUSE_REQUIRE_SERVICES"

// TestDocsInBrowser drives headless Chromium through the API reference of a
// server generated from specs/bank.yaml, as a person would: GET /accounts
// is refused with 401 before logging in; after authorizing in the page's
// dialog with a username and password (the OAuth2 password flow at the
// server's token endpoint), the same call reaches the handler, which
// answers with the caller's name. The page must load nothing from
// elsewhere and break no rule of its Content-Security-Policy.
func TestDocsInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a generated server and drives a browser; skipped with -short")
	}
	browser := chromiumPath(t)

	dir := filepath.Join(t.TempDir(), "bank")
	var stderr bytes.Buffer
	if code := cli.Main([]string{"new", dir, "--spec", "specs/bank.yaml", "--module", "example.com/bank"}, nil, io.Discard, &stderr); code != 0 {
		t.Fatalf("gatehouse new: exit %d\n%s", code, &stderr)
	}
	implementListAccounts(t, dir)
	server := filepath.Join(dir, "server")
	run(t, dir, nil, nil, "go", "build", "-o", server, "./cmd/server")
	env := []string{"GATEHOUSE_ENV=development", "LOG_FORMAT=json", "DATABASE_URL=sqlite:" + filepath.Join(dir, "bank.db"), "LISTEN_ADDR=127.0.0.1:0"}
	run(t, dir, env, strings.NewReader("correct horse battery\n"), server, "users", "add", "--username", "alice", "--password-stdin", "--scopes", "accounts:read")
	base := startServer(t, dir, server, env)

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(browser), chromedp.NoSandbox, chromedp.DisableGPU)
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancel()
	var mu sync.Mutex
	var elsewhere []string
	ctx, cancel := chromedp.NewContext(actx, chromedp.WithListener(func(ev any) {
		if e, ok := ev.(*network.EventRequestWillBeSent); ok && !strings.HasPrefix(e.Request.URL, base+"/") && !strings.HasPrefix(e.Request.URL, "data:") {
			mu.Lock()
			elsewhere = append(elsewhere, e.Request.URL)
			mu.Unlock()
		}
	}))
	defer cancel()
	// The first action starts the browser. It records the page's CSP
	// violations from a script that runs before the page's own, outside
	// its CSP.
	err := chromedp.Do(ctx, chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: `window.cspViolations = [];
document.addEventListener("securitypolicyviolation", e => window.cspViolations.push(e.violatedDirective + " " + e.blockedURI));`})
		return err
	}))
	if err != nil {
		t.Fatalf("browser: %v", err)
	}
	ctx, cancel = context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	do := func(step string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, actions...); err != nil {
			t.Fatalf("browser: %s: %v", step, err)
		}
	}
	text := func(sel chromedp.CSS) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text(sel))
		if err != nil {
			t.Fatalf("browser: read %s: %v", sel, err)
		}
		return strings.TrimSpace(s)
	}

	// GET /accounts takes only a token: an operation that also accepts
	// HTTP Basic answers 401 with a Basic challenge, to which the browser
	// responds with its own login prompt, and the call waits on it.
	//
	// The dialog's blocks, one per scheme and flow, are told apart by
	// their headings: "oauth2 (OAuth2, password)".
	const passwordFlow = `//div[contains(@class,"auth-container")][.//h4[contains(normalize-space(.),"oauth2 (OAuth2, password)")]]`
	const op = `#operations-default-listAccounts`
	status := chromedp.CSS(op + ` .live-responses-table tr.response .response-col_status`)

	do("open /docs and call GET /accounts",
		chromedp.Navigate(base+"/docs"),
		chromedp.Click(chromedp.CSS(op+` .opblock-summary`)),
		chromedp.Click(chromedp.CSS(op+` .try-out__btn`)),
		chromedp.Click(chromedp.CSS(op+` .execute`)),
		chromedp.WaitVisible(status),
	)
	// The status cell reads "401" and, for a status the spec does not
	// list, "Undocumented" below it.
	if before := firstLine(text(status)); before != "401" {
		t.Fatalf("GET /accounts before logging in: status %q, want 401", before)
	}

	do("log in with the password flow",
		chromedp.Click(chromedp.CSS(`.auth-wrapper .btn.authorize`)),
		chromedp.SendKeys(passwordFlow+`//input[@id="oauth_username"]`, "alice"),
		chromedp.SendKeys(passwordFlow+`//input[@id="oauth_password"]`, "correct horse battery"),
		chromedp.Click(passwordFlow+`//button[contains(@class,"authorize")]`),
		chromedp.WaitVisible(passwordFlow+`//button[normalize-space(.)="Logout"]`),
		chromedp.Click(chromedp.CSS(`.btn-done`)),
	)

	do("call GET /accounts again",
		chromedp.Click(chromedp.CSS(op+` .execute`)),
		chromedp.Poll[chromedp.Void](`document.querySelector("`+string(status)+`")?.innerText.trim().split("\n")[0] !== "401"`),
	)
	after := firstLine(text(status))
	body := text(chromedp.CSS(op + ` .live-responses-table tr.response .response-col_description pre`))
	violations, err := chromedp.Run(ctx, chromedp.Evaluate[string](`window.cspViolations.join("\n")`))
	if err != nil {
		t.Fatalf("browser: %v", err)
	}

	if after != "200" || !strings.Contains(body, `"subject": "alice"`) {
		t.Errorf("GET /accounts after logging in as alice: status %q, body %s; want 200 and the handler's answer naming alice", after, body)
	}
	if violations != "" {
		t.Errorf("the page broke its Content-Security-Policy:\n%s", violations)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(elsewhere) > 0 {
		t.Errorf("the page loaded from elsewhere than the server (it must work offline):\n%s", strings.Join(elsewhere, "\n"))
	}
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return strings.TrimSpace(line)
}

// chromiumPath returns the Chromium to drive, or skips the test (fails it
// under GATEHOUSE_REQUIRE_SERVICES=1) when there is none.
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	msg := "no Chromium on the PATH (Debian: apt-get install chromium)"
	if os.Getenv(requireServicesEnv) == "1" {
		t.Fatalf("%s, and %s=1 requires it", msg, requireServicesEnv)
	}
	t.Skipf("%s; set %s=1 to make this a failure", msg, requireServicesEnv)
	return ""
}

// implementListAccounts replaces the ListAccounts stub of a project generated from
// bank.yaml with a handler that answers with the caller's name, as a user
// implementing it would.
func implementListAccounts(t *testing.T, dir string) {
	t.Helper()
	path := filepath.Join(dir, "internal", "handlers", "default.go")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	stub := regexp.MustCompile(`(?m)^func \(h \*Handlers\) ListAccounts\(.*\{\n\treturn nil, routes\.ErrNotImplemented\n\}\n`)
	if !stub.Match(data) {
		t.Fatalf("%s has no ListAccounts stub to implement", path)
	}
	if err := os.WriteFile(path, stub.ReplaceAll(data, nil), 0o644); err != nil {
		t.Fatal(err)
	}
	const accounts = `package handlers

import (
	"context"
	"encoding/json"
	"net/http"

	"example.com/bank/internal/api"
	"example.com/bank/internal/auth"
)

func (h *Handlers) ListAccounts(ctx context.Context, request api.ListAccountsRequestObject) (api.ListAccountsResponseObject, error) {
	p, _ := auth.PrincipalFrom(ctx)
	return caller{Subject: p.Subject, Scopes: p.Scopes}, nil
}

type caller struct {
	Subject string   ` + "`json:\"subject\"`" + `
	Scopes  []string ` + "`json:\"scopes\"`" + `
}

func (c caller) VisitListAccountsResponse(w http.ResponseWriter) error {
	w.Header().Set("Content-Type", "application/json")
	return json.NewEncoder(w).Encode(c)
}
`
	if err := os.WriteFile(filepath.Join(dir, "internal", "handlers", "accounts.go"), []byte(accounts), 0o644); err != nil {
		t.Fatal(err)
	}
}

// run runs a command in dir with env added to the environment, failing the
// test with its output if it fails.
func run(t *testing.T, dir string, env []string, stdin io.Reader, name string, args ...string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir, cmd.Env, cmd.Stdin = dir, append(os.Environ(), env...), stdin
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

// startServer starts the server and returns its base URL, read from its
// "listening" log line. The server is stopped when the test ends.
func startServer(t *testing.T, dir, server string, env []string) string {
	t.Helper()
	cmd := exec.Command(server)
	cmd.Dir, cmd.Env = dir, append(os.Environ(), env...)
	logs, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = w
	err = cmd.Start()
	w.Close()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		_ = cmd.Wait()
		logs.Close()
	})
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(logs)
		for sc.Scan() {
			var line struct{ Msg, Addr string }
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "listening" {
				addr <- line.Addr
			}
		}
		close(addr)
	}()
	select {
	case a, ok := <-addr:
		if !ok {
			t.Fatal("the server exited before listening")
		}
		return "http://" + a
	case <-time.After(time.Minute):
		t.Fatal("the server did not log that it listens within a minute")
	}
	return ""
}
