package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/config"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

const (
	// Module path of @pulumi/pulumi's program launcher, resolved from the program directory.
	runModule = "@pulumi/pulumi/cmd/run"
	// Module path of @pulumi/pulumi's plugin launcher (for plugins written in Node.js).
	runPluginModule = "@pulumi/pulumi/cmd/run-plugin"

	// Exit code with which @pulumi/pulumi's cmd/run says "I already reported the error to the
	// user"; the engine is then told to bail without printing anything more.
	exitCodeErrorAlreadyReported = 32
)

// runtimeOptions are the `runtime.options` of Pulumi.yaml that this host understands.
type runtimeOptions struct {
	typescript     bool   // run .ts sources through @pulumi/pulumi's ts-node support (default true)
	tsconfig       string // path to the tsconfig.json to use
	nodeargs       string // extra arguments for node, split like a shell would
	packagemanager string // auto, npm, yarn, pnpm or bun
	production     bool   // skip devDependencies when installing
}

func parseRuntimeOptions(opts map[string]any) (runtimeOptions, error) {
	o := runtimeOptions{typescript: true, packagemanager: "auto"}
	for key, raw := range opts {
		switch key {
		case "typescript", "production":
			b, ok := raw.(bool)
			if !ok {
				return o, fmt.Errorf("runtime option %q must be a boolean", key)
			}
			if key == "typescript" {
				o.typescript = b
			} else {
				o.production = b
			}
		case "tsconfig", "nodeargs", "packagemanager":
			s, ok := raw.(string)
			if !ok {
				return o, fmt.Errorf("runtime option %q must be a string", key)
			}
			switch key {
			case "tsconfig":
				o.tsconfig = s
			case "nodeargs":
				o.nodeargs = s
			default:
				switch s {
				case "auto", "npm", "yarn", "pnpm", "bun":
					o.packagemanager = s
				default:
					return o, fmt.Errorf("runtime option packagemanager must be one of auto, npm, yarn, pnpm or bun, got %q", s)
				}
			}
		}
	}
	return o, nil
}

// splitArgs splits a command line the way a POSIX shell splits words: whitespace separates,
// single quotes are literal, double quotes allow backslash escapes, a backslash escapes the
// next character outside quotes.
func splitArgs(s string) ([]string, error) {
	var args []string
	var cur strings.Builder
	inWord := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			if inWord {
				args = append(args, cur.String())
				cur.Reset()
				inWord = false
			}
		case c == '\'':
			inWord = true
			end := strings.IndexByte(s[i+1:], '\'')
			if end < 0 {
				return nil, errors.New("unterminated single quote in nodeargs")
			}
			cur.WriteString(s[i+1 : i+1+end])
			i += end + 1
		case c == '"':
			inWord = true
			i++
			for ; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' && i+1 < len(s) && strings.IndexByte("\\\"$`", s[i+1]) >= 0 {
					i++
				}
				cur.WriteByte(s[i])
			}
			if i >= len(s) {
				return nil, errors.New("unterminated double quote in nodeargs")
			}
		case c == '\\':
			inWord = true
			if i+1 < len(s) {
				i++
				cur.WriteByte(s[i])
			}
		default:
			inWord = true
			cur.WriteByte(c)
		}
	}
	if inWord {
		args = append(args, cur.String())
	}
	return args, nil
}

// nodeRunArgs builds node's argument list for running a program: node's own arguments
// (nodeargs), the resolved cmd/run script, the flags cmd/run understands, the entry point and
// the program's arguments.
func nodeRunArgs(req *pulumirpc.RunRequest, opts runtimeOptions, runScript, engineAddress, tracing string,
) ([]string, error) {
	args, err := splitArgs(opts.nodeargs)
	if err != nil {
		return nil, err
	}
	args = append(args, runScript)
	flag := func(name, value string) {
		if value != "" {
			args = append(args, "--"+name, value)
		}
	}
	info := req.GetInfo()
	flag("monitor", req.GetMonitorAddress())
	flag("engine", engineAddress)
	flag("organization", req.GetOrganization())
	flag("project", req.GetProject())
	flag("root-directory", info.GetRootDirectory())
	flag("stack", req.GetStack())
	flag("pwd", programDirectory(req))
	if req.GetDryRun() {
		args = append(args, "--dry-run")
	}
	flag("parallel", strconv.Itoa(int(req.GetParallel())))
	flag("tracing", tracing)

	entry := info.GetEntryPoint()
	if entry == "" {
		entry = req.GetProgram()
	}
	if entry == "" {
		entry = "."
	}
	args = append(args, entry)
	return append(args, req.GetArgs()...), nil
}

// programDirectory is where the program lives: ProgramInfo's directory, or the request's
// working directory for engines that do not send ProgramInfo.
func programDirectory(req *pulumirpc.RunRequest) string {
	if dir := req.GetInfo().GetProgramDirectory(); dir != "" {
		return dir
	}
	return req.GetPwd()
}

// nodeRunEnv is the environment node runs with: ours plus the stack configuration (as the JSON
// objects @pulumi/pulumi reads from PULUMI_CONFIG and PULUMI_CONFIG_SECRET_KEYS) and the
// TypeScript switches.
func nodeRunEnv(base []string, req *pulumirpc.RunRequest, opts runtimeOptions) ([]string, error) {
	// Keys arrive as `<namespace>:<name>`; @pulumi/pulumi reads both that and the older
	// `<namespace>:config:<name>` form, and upstream hands it the older one, so do the same.
	cfg := make(map[string]string, len(req.GetConfig()))
	for k, v := range req.GetConfig() {
		key, err := config.ParseKey(k)
		if err != nil {
			return nil, err
		}
		cfg[key.Namespace()+":config:"+key.Name()] = v
	}
	cfgJSON, err := json.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	secretKeys := req.GetConfigSecretKeys()
	if secretKeys == nil {
		secretKeys = []string{}
	}
	secretJSON, err := json.Marshal(secretKeys)
	if err != nil {
		return nil, err
	}

	env := append([]string{}, base...)
	env = append(env, "PULUMI_CONFIG="+string(cfgJSON), "PULUMI_CONFIG_SECRET_KEYS="+string(secretJSON))
	if opts.typescript {
		env = append(env, "PULUMI_NODEJS_TYPESCRIPT=true")
	}
	if opts.tsconfig != "" {
		env = append(env, "PULUMI_NODEJS_TSCONFIG_PATH="+opts.tsconfig)
	}
	return env, nil
}

// detectPackageManager picks the package manager for `auto`: by lock file, npm otherwise.
func detectPackageManager(dir, choice string) string {
	if choice != "" && choice != "auto" {
		return choice
	}
	for d := dir; ; {
		for _, lock := range [][2]string{
			{"package-lock.json", "npm"}, {"yarn.lock", "yarn"}, {"pnpm-lock.yaml", "pnpm"},
			{"bun.lock", "bun"}, {"bun.lockb", "bun"},
		} {
			if _, err := os.Stat(filepath.Join(d, lock[0])); err == nil {
				return lock[1]
			}
		}
		parent := filepath.Dir(d)
		if parent == d {
			return "npm"
		}
		d = parent
	}
}

// installArgs is the command that installs a program's dependencies.
func installArgs(pm string, production bool) []string {
	args := []string{pm, "install"}
	if production {
		switch pm {
		case "npm":
			args = append(args, "--omit=dev")
		default:
			args = append(args, "--production")
		}
	}
	if pm == "npm" {
		args = append(args, "--no-audit", "--no-fund")
	}
	return args
}
