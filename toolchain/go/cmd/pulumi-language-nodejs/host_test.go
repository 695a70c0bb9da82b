package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

func options(t *testing.T, m map[string]any) *structpb.Struct {
	t.Helper()
	s, err := structpb.NewStruct(m)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestNodeRunArgs(t *testing.T) {
	req := &pulumirpc.RunRequest{
		Project: "proj", Stack: "dev", Organization: "org", Parallel: 16, DryRun: true,
		MonitorAddress: "127.0.0.1:1111", Args: []string{"extra"},
		Info: &pulumirpc.ProgramInfo{RootDirectory: "/p", ProgramDirectory: "/p/src", EntryPoint: "."},
	}
	opts := runtimeOptions{typescript: true, nodeargs: `--max-old-space-size=4096 --title "a b"`}
	got, err := nodeRunArgs(req, opts, "/p/node_modules/@pulumi/pulumi/cmd/run/index.js", "127.0.0.1:2222", "")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"--max-old-space-size=4096", "--title", "a b",
		"/p/node_modules/@pulumi/pulumi/cmd/run/index.js",
		"--monitor", "127.0.0.1:1111", "--engine", "127.0.0.1:2222", "--organization", "org",
		"--project", "proj", "--root-directory", "/p", "--stack", "dev", "--pwd", "/p/src",
		"--dry-run", "--parallel", "16", ".", "extra",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("args:\n got %q\nwant %q", got, want)
	}

	// Not a dry run, no org, a tracing endpoint, Pwd instead of ProgramInfo.
	req = &pulumirpc.RunRequest{Project: "proj", Stack: "dev", MonitorAddress: "m", Pwd: "/w", Program: "."}
	got, err = nodeRunArgs(req, runtimeOptions{}, "run.js", "e", "http://trace")
	if err != nil {
		t.Fatal(err)
	}
	want = []string{"run.js", "--monitor", "m", "--engine", "e", "--project", "proj", "--stack", "dev",
		"--pwd", "/w", "--parallel", "0", "--tracing", "http://trace", "."}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("args:\n got %q\nwant %q", got, want)
	}
}

func envValue(env []string, key string) (string, bool) {
	val, found := "", false
	for _, kv := range env {
		if k, v, ok := strings.Cut(kv, "="); ok && k == key {
			val, found = v, true // the last one wins, as for exec
		}
	}
	return val, found
}

func TestNodeRunEnv(t *testing.T) {
	req := &pulumirpc.RunRequest{
		Config:           map[string]string{"proj:name": "x", "aws:region": "r", "proj:config:old": "o"},
		ConfigSecretKeys: []string{"proj:name"},
	}
	env, err := nodeRunEnv([]string{"PATH=/bin"}, req, runtimeOptions{typescript: true, tsconfig: "tsconfig.x.json"})
	if err != nil {
		t.Fatal(err)
	}
	cfgJSON, _ := envValue(env, "PULUMI_CONFIG")
	var cfg map[string]string
	if err := json.Unmarshal([]byte(cfgJSON), &cfg); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(cfg, map[string]string{"proj:config:name": "x", "aws:config:region": "r", "proj:config:old": "o"}) {
		t.Errorf("PULUMI_CONFIG = %s", cfgJSON)
	}
	if v, _ := envValue(env, "PULUMI_CONFIG_SECRET_KEYS"); v != `["proj:name"]` {
		t.Errorf("PULUMI_CONFIG_SECRET_KEYS = %s", v)
	}
	if v, _ := envValue(env, "PULUMI_NODEJS_TYPESCRIPT"); v != "true" {
		t.Errorf("PULUMI_NODEJS_TYPESCRIPT = %q", v)
	}
	if v, _ := envValue(env, "PULUMI_NODEJS_TSCONFIG_PATH"); v != "tsconfig.x.json" {
		t.Errorf("PULUMI_NODEJS_TSCONFIG_PATH = %q", v)
	}
	if v, _ := envValue(env, "PATH"); v != "/bin" {
		t.Error("the base environment is lost")
	}

	env, err = nodeRunEnv(nil, &pulumirpc.RunRequest{}, runtimeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := envValue(env, "PULUMI_CONFIG"); v != "{}" {
		t.Errorf("empty PULUMI_CONFIG = %q", v)
	}
	if v, _ := envValue(env, "PULUMI_CONFIG_SECRET_KEYS"); v != "[]" {
		t.Errorf("empty PULUMI_CONFIG_SECRET_KEYS = %q", v)
	}
	if _, ok := envValue(env, "PULUMI_NODEJS_TYPESCRIPT"); ok {
		t.Error("typescript: false still sets PULUMI_NODEJS_TYPESCRIPT")
	}
	if _, err := nodeRunEnv(nil, &pulumirpc.RunRequest{Config: map[string]string{"bad": "x"}}, runtimeOptions{}); err == nil {
		t.Error("a config key without namespace must fail")
	}
}

func TestParseRuntimeOptions(t *testing.T) {
	o, err := parseRuntimeOptions(nil)
	if err != nil || !o.typescript || o.packagemanager != "auto" {
		t.Errorf("defaults: %+v %v", o, err)
	}
	o, err = parseRuntimeOptions(map[string]any{
		"typescript": false, "nodeargs": "--inspect", "packagemanager": "yarn", "production": true, "tsconfig": "t.json",
	})
	if err != nil || o.typescript || o.nodeargs != "--inspect" || o.packagemanager != "yarn" || !o.production ||
		o.tsconfig != "t.json" {
		t.Errorf("parsed: %+v %v", o, err)
	}
	for _, bad := range []map[string]any{{"typescript": "yes"}, {"nodeargs": 1.0}, {"packagemanager": "cargo"}} {
		if _, err := parseRuntimeOptions(bad); err == nil {
			t.Errorf("%v: want an error", bad)
		}
	}
}

func TestSplitArgs(t *testing.T) {
	for in, want := range map[string][]string{
		"":                       nil,
		"  a  b ":                {"a", "b"},
		`--x="a b" 'c d' e\ f`:   {"--x=a b", "c d", "e f"},
		`"say \"hi\"" ''`:        {`say "hi"`, ""},
		"--max-old-space-size=1": {"--max-old-space-size=1"},
	} {
		got, err := splitArgs(in)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("splitArgs(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := splitArgs(`"open`); err == nil {
		t.Error("unterminated quote must fail")
	}
}

func writeJSON(t *testing.T, path string, v any) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(v)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// fakeProgram lays out a program directory with a node_modules tree.
func fakeProgram(t *testing.T) string {
	dir := t.TempDir()
	writeJSON(t, filepath.Join(dir, "package.json"), map[string]any{
		"name": "prog", "main": "index.ts",
		"dependencies":    map[string]string{"@pulumi/pulumi": "3.270.0", "@pulumi/command": "1.2.1"},
		"devDependencies": map[string]string{"typescript": "^5"},
	})
	nm := filepath.Join(dir, "node_modules")
	writeJSON(t, filepath.Join(nm, "@pulumi/pulumi/package.json"), map[string]any{"name": "@pulumi/pulumi", "version": "3.270.0"})
	writeJSON(t, filepath.Join(nm, "@pulumi/command/package.json"), map[string]any{
		"name": "@pulumi/command", "version": "1.2.1",
		"pulumi": map[string]any{"resource": true, "name": "command", "version": "1.2.1"},
	})
	writeJSON(t, filepath.Join(nm, "typescript/package.json"), map[string]any{"name": "typescript", "version": "5.9.3"})
	// A nested copy announcing another version, and a plugin without explicit name/version.
	writeJSON(t, filepath.Join(nm, "typescript/node_modules/@pulumi/kubernetes/package.json"), map[string]any{
		"name": "@pulumi/kubernetes", "version": "4.25.0", "pulumi": map[string]any{"resource": true},
	})
	// Duplicate of command 1.2.1 elsewhere: reported once.
	writeJSON(t, filepath.Join(nm, "other/node_modules/@pulumi/command/package.json"), map[string]any{
		"name": "@pulumi/command", "version": "1.2.1", "pulumi": map[string]any{"resource": true, "name": "command"},
	})
	writeJSON(t, filepath.Join(nm, "other/package.json"), map[string]any{"name": "other", "version": "1.0.0"})
	return dir
}

func TestGetRequiredPackages(t *testing.T) {
	dir := fakeProgram(t)
	h := newHost("", "")
	resp, err := h.GetRequiredPackages(context.Background(), &pulumirpc.GetRequiredPackagesRequest{
		Info: &pulumirpc.ProgramInfo{ProgramDirectory: dir},
	})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range resp.Packages {
		got = append(got, p.Kind+":"+p.Name+"@"+p.Version)
	}
	want := []string{"resource:command@v1.2.1", "resource:kubernetes@v4.25.0"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("packages = %q, want %q", got, want)
	}
	// No node_modules at all: no packages, no error.
	resp, err = h.GetRequiredPackages(context.Background(), &pulumirpc.GetRequiredPackagesRequest{
		Info: &pulumirpc.ProgramInfo{ProgramDirectory: t.TempDir()},
	})
	if err != nil || len(resp.Packages) != 0 {
		t.Errorf("empty program: %v %v", resp, err)
	}
}

func TestGetProgramDependencies(t *testing.T) {
	dir := fakeProgram(t)
	h := newHost("", "")
	list := func(transitive bool) []string {
		resp, err := h.GetProgramDependencies(context.Background(), &pulumirpc.GetProgramDependenciesRequest{
			Info: &pulumirpc.ProgramInfo{ProgramDirectory: dir}, TransitiveDependencies: transitive,
		})
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, d := range resp.Dependencies {
			out = append(out, d.Name+"@"+d.Version)
		}
		return out
	}
	if got, want := list(false), []string{"@pulumi/command@1.2.1", "@pulumi/pulumi@3.270.0", "typescript@5.9.3"}; !reflect.DeepEqual(got, want) {
		t.Errorf("direct = %q, want %q", got, want)
	}
	if got := list(true); len(got) != 5 {
		t.Errorf("transitive = %q", got)
	}
}

func TestRunResponse(t *testing.T) {
	exit := func(code int) error {
		return fakeExit(t, code)
	}
	if r := runResponse(nil); r.Error != "" || r.Bail {
		t.Errorf("success: %v", r)
	}
	if r := runResponse(exit(32)); !r.Bail || r.Error != "" {
		t.Errorf("exit 32 (already reported): %v", r)
	}
	if r := runResponse(exit(1)); r.Bail || r.Error != "Program exited with non-zero exit code: 1" {
		t.Errorf("exit 1: %v", r)
	}
	if r := runResponse(io.ErrUnexpectedEOF); !strings.Contains(r.Error, "could not run language executor") {
		t.Errorf("start failure: %v", r)
	}
}

func fakeExit(t *testing.T, code int) error {
	t.Helper()
	h := newHost("", "")
	cmd := h.command(context.Background(), "/bin/sh", []string{"-c", fmt.Sprintf("exit %d", code)})
	return cmd.Run()
}

// fakeNode writes a stand-in for node: `-e` prints the module path the host asks to resolve;
// otherwise it records its arguments and some environment and exits with $FAKE_NODE_EXIT.
func fakeNode(t *testing.T) (bin, record string) {
	t.Helper()
	dir := t.TempDir()
	record = filepath.Join(dir, "record")
	bin = filepath.Join(dir, "node")
	script := `#!/bin/sh
if [ "$1" = "-e" ]; then echo "/resolved/run/index.js"; exit 0; fi
{ for a in "$@"; do echo "arg:$a"; done
  echo "env:PULUMI_CONFIG=$PULUMI_CONFIG"
  echo "env:PULUMI_NODEJS_TYPESCRIPT=$PULUMI_NODEJS_TYPESCRIPT"; } > ` + record + `
echo "program output"
exit ${FAKE_NODE_EXIT:-0}
`
	if err := os.WriteFile(bin, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return bin, record
}

func TestRunStartsNodeWithRunScript(t *testing.T) {
	bin, record := fakeNode(t)
	h := newHost("127.0.0.1:5555", "")
	h.lookPath = func(string) (string, error) { return bin, nil }
	req := &pulumirpc.RunRequest{
		Project: "proj", Stack: "dev", MonitorAddress: "127.0.0.1:6666", Parallel: 4,
		Config: map[string]string{"proj:greeting": "hi"},
		Info:   &pulumirpc.ProgramInfo{ProgramDirectory: t.TempDir(), RootDirectory: "/root", EntryPoint: "."},
	}
	resp, err := h.Run(context.Background(), req)
	if err != nil || resp.Error != "" || resp.Bail {
		t.Fatalf("run: %v %v", resp, err)
	}
	b, err := os.ReadFile(record)
	if err != nil {
		t.Fatal(err)
	}
	got := string(b)
	for _, want := range []string{
		"arg:/resolved/run/index.js\narg:--monitor\narg:127.0.0.1:6666\narg:--engine\narg:127.0.0.1:5555\n",
		"arg:--parallel\narg:4\narg:.\n",
		`env:PULUMI_CONFIG={"proj:config:greeting":"hi"}`,
		"env:PULUMI_NODEJS_TYPESCRIPT=true",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("node saw:\n%s\nmissing %q", got, want)
		}
	}

	t.Setenv("FAKE_NODE_EXIT", "32")
	if resp, _ := h.Run(context.Background(), req); !resp.Bail {
		t.Errorf("exit 32: %v", resp)
	}
	t.Setenv("FAKE_NODE_EXIT", "2")
	if resp, _ := h.Run(context.Background(), req); resp.Error != "Program exited with non-zero exit code: 2" {
		t.Errorf("exit 2: %v", resp)
	}
	h.lookPath = func(string) (string, error) { return "", os.ErrNotExist }
	if resp, _ := h.Run(context.Background(), req); !strings.Contains(resp.Error, "could not find node") {
		t.Errorf("no node: %v", resp)
	}
}

func TestPackageManagerChoice(t *testing.T) {
	dir := t.TempDir()
	if pm := detectPackageManager(dir, "auto"); pm != "npm" {
		t.Errorf("no lock file: %s", pm)
	}
	if err := os.WriteFile(filepath.Join(dir, "yarn.lock"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if pm := detectPackageManager(filepath.Join(dir), "auto"); pm != "yarn" {
		t.Errorf("yarn.lock: %s", pm)
	}
	if pm := detectPackageManager(dir, "pnpm"); pm != "pnpm" {
		t.Errorf("explicit: %s", pm)
	}
	if got := installArgs("npm", true); !reflect.DeepEqual(got, []string{"npm", "install", "--omit=dev", "--no-audit", "--no-fund"}) {
		t.Errorf("npm production: %q", got)
	}
}

// TestOverGRPC serves the host and drives GetPluginInfo and a streamed InstallDependencies
// (with a stand-in npm) through a real gRPC client.
func TestOverGRPC(t *testing.T) {
	dir := t.TempDir()
	npm := filepath.Join(t.TempDir(), "npm")
	if err := os.WriteFile(npm, []byte("#!/bin/sh\necho \"npm $*\"; echo warned >&2; pwd > installed-here\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	h := newHost("", "")
	h.lookPath = func(name string) (string, error) {
		if name == "npm" {
			return npm, nil
		}
		return "", os.ErrNotExist
	}
	stop := make(chan bool)
	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Cancel: stop,
		Init: func(s *grpc.Server) error {
			pulumirpc.RegisterLanguageRuntimeServer(s, h)
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { close(stop); <-handle.Done }()
	conn, err := grpc.NewClient(fmt.Sprintf("127.0.0.1:%d", handle.Port), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client := pulumirpc.NewLanguageRuntimeClient(conn)
	ctx := context.Background()

	info, err := client.GetPluginInfo(ctx, nil)
	if err != nil || info.Version == "" {
		t.Fatalf("plugin info: %v %v", info, err)
	}
	stream, err := client.InstallDependencies(ctx, &pulumirpc.InstallDependenciesRequest{
		Info: &pulumirpc.ProgramInfo{ProgramDirectory: dir, Options: options(t, map[string]any{})},
	})
	if err != nil {
		t.Fatal(err)
	}
	var stdout, stderr strings.Builder
	for {
		msg, err := stream.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		stdout.Write(msg.Stdout)
		stderr.Write(msg.Stderr)
	}
	if !strings.Contains(stdout.String(), "npm install --no-audit --no-fund") || !strings.Contains(stderr.String(), "warned") {
		t.Errorf("streamed stdout %q stderr %q", stdout.String(), stderr.String())
	}
	if _, err := os.Stat(filepath.Join(dir, "installed-here")); err != nil {
		t.Error("npm did not run in the program directory")
	}
	// Methods this host does not implement answer Unimplemented.
	if _, err := client.GenerateProject(ctx, &pulumirpc.GenerateProjectRequest{}); err == nil ||
		!strings.Contains(err.Error(), "Unimplemented") {
		t.Errorf("GenerateProject: %v", err)
	}
}
