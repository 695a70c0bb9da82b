package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/pulumi/pulumi/sdk/v3/go/common/util/logging"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

// host implements pulumirpc.LanguageRuntimeServer. Methods it does not define (code generation,
// Pack, Link, Template, GetRequiredPlugins) answer codes.Unimplemented through the embedded type.
type host struct {
	pulumirpc.UnimplementedLanguageRuntimeServer

	mu            sync.Mutex
	engineAddress string
	tracing       string

	// cancelled by the Cancel RPC: stops every running program or plugin.
	cancelCtx  context.Context
	cancelFunc context.CancelFunc

	// lookPath finds executables (node, npm); a field so tests can substitute it.
	lookPath func(string) (string, error)
}

func newHost(engineAddress, tracing string) *host {
	ctx, cancel := context.WithCancel(context.Background())
	return &host{
		engineAddress: engineAddress,
		tracing:       tracing,
		cancelCtx:     ctx,
		cancelFunc:    cancel,
		lookPath:      exec.LookPath,
	}
}

func (h *host) engine() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.engineAddress
}

// Handshake is how engines that attach to an already running host tell it where they are.
func (h *host) Handshake(ctx context.Context, req *pulumirpc.LanguageHandshakeRequest,
) (*pulumirpc.LanguageHandshakeResponse, error) {
	h.mu.Lock()
	h.engineAddress = req.GetEngineAddress()
	h.mu.Unlock()
	return &pulumirpc.LanguageHandshakeResponse{}, nil
}

func (h *host) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: version}, nil
}

// GetRequiredPackages reports the resource plugins announced by the packages installed in the
// program's node_modules, so the engine can load the right versions up front. Problems reading
// node_modules are logged, not fatal: the engine also loads providers on demand.
func (h *host) GetRequiredPackages(ctx context.Context, req *pulumirpc.GetRequiredPackagesRequest,
) (*pulumirpc.GetRequiredPackagesResponse, error) {
	deps, err := requiredPackages(req.GetInfo().GetProgramDirectory())
	if err != nil {
		logging.V(3).Infof("errors while looking for plugins in node_modules: %v", err)
	}
	return &pulumirpc.GetRequiredPackagesResponse{Packages: deps}, nil
}

// resolveModule asks node where `module` resolves to, seen from dir (so node's own lookup rules,
// workspaces and NODE_PATH apply).
func resolveModule(ctx context.Context, nodeBin, dir, module string) (string, error) {
	script := fmt.Sprintf(`try { console.log(require.resolve(%q)); } catch (e) { `+
		`if (e.code === "MODULE_NOT_FOUND") { console.error("Cannot find %s from %s: `+
		`has @pulumi/pulumi been installed (pulumi install / npm install)?"); } `+
		`else { console.error(e.message); } process.exit(1); }`, module, module, strings.ReplaceAll(dir, `"`, `'`))
	cmd := exec.CommandContext(ctx, nodeBin, "-e", script)
	cmd.Dir = dir
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		if msg := strings.TrimSpace(stderr.String()); msg != "" {
			return "", errors.New(msg)
		}
		return "", fmt.Errorf("resolving %s: %w", module, err)
	}
	return strings.TrimSpace(string(out)), nil
}

// Run runs the program: `node [nodeargs] .../@pulumi/pulumi/cmd/run --monitor ... ENTRY ARGS`.
// Program failures come back in RunResponse.Error (or Bail when the program already reported
// them); a Go error means the host itself failed.
func (h *host) Run(ctx context.Context, req *pulumirpc.RunRequest) (*pulumirpc.RunResponse, error) {
	dir := programDirectory(req)
	opts, err := parseRuntimeOptions(req.GetInfo().GetOptions().AsMap())
	if err != nil {
		return &pulumirpc.RunResponse{Error: err.Error()}, nil
	}
	nodeBin, err := h.lookPath("node")
	if err != nil {
		return &pulumirpc.RunResponse{Error: fmt.Sprintf("could not find node on the $PATH: %v", err)}, nil
	}
	module := os.Getenv("PULUMI_LANGUAGE_NODEJS_RUN_PATH")
	if module == "" {
		module = runModule
	}
	runScript, err := resolveModule(ctx, nodeBin, dir, module)
	if err != nil {
		return &pulumirpc.RunResponse{Error: err.Error()}, nil
	}
	args, err := nodeRunArgs(req, opts, runScript, h.engine(), h.tracing)
	if err != nil {
		return &pulumirpc.RunResponse{Error: err.Error()}, nil
	}
	env, err := nodeRunEnv(os.Environ(), req, opts)
	if err != nil {
		return &pulumirpc.RunResponse{Error: fmt.Sprintf("failed to serialize configuration: %v", err)}, nil
	}

	cmd := h.command(ctx, nodeBin, args)
	cmd.Env = env
	// Node may switch its stdio to non-blocking mode; give it pipes (which exec copies) rather
	// than our own file descriptors.
	cmd.Stdout = struct{ io.Writer }{os.Stdout}
	cmd.Stderr = struct{ io.Writer }{os.Stderr}
	logging.V(5).Infof("running program: %s %s", nodeBin, strings.Join(args, " "))

	return runResponse(cmd.Run()), nil
}

// runResponse turns node's exit into the RunResponse the engine expects.
func runResponse(err error) *pulumirpc.RunResponse {
	if err == nil {
		return &pulumirpc.RunResponse{}
	}
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) {
		switch code := exitErr.ExitCode(); code {
		case exitCodeErrorAlreadyReported:
			// The program logged an actionable error already; nothing more to print.
			return &pulumirpc.RunResponse{Bail: true}
		case -1:
			return &pulumirpc.RunResponse{Error: fmt.Sprintf("Program exited unexpectedly: %v", exitErr)}
		default:
			return &pulumirpc.RunResponse{Error: fmt.Sprintf("Program exited with non-zero exit code: %d", code)}
		}
	}
	return &pulumirpc.RunResponse{
		Error: fmt.Sprintf("Problem executing program (could not run language executor): %v", err),
	}
}

// command makes a child process that stops (SIGINT, then SIGKILL after 5s) when the request
// ends or the Cancel RPC arrives.
func (h *host) command(ctx context.Context, bin string, args []string) *exec.Cmd {
	cmdCtx, cancel := context.WithCancel(h.cancelCtx)
	context.AfterFunc(ctx, cancel)
	cmd := exec.CommandContext(cmdCtx, bin, args...)
	cmd.Cancel = func() error {
		if err := cmd.Process.Signal(os.Interrupt); err != nil {
			return cmd.Process.Kill()
		}
		return nil
	}
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

// InstallDependencies runs the package manager's install in the program directory, streaming
// its output to the engine.
func (h *host) InstallDependencies(req *pulumirpc.InstallDependenciesRequest,
	server grpc.ServerStreamingServer[pulumirpc.InstallDependenciesResponse],
) error {
	closer, stdout, stderr, err := rpcutil.MakeInstallDependenciesStreams(server, req.GetIsTerminal())
	if err != nil {
		return err
	}
	defer closer.Close()

	dir := req.GetInfo().GetProgramDirectory()
	if dir == "" {
		dir = req.GetDirectory() //nolint:staticcheck // older engines
	}
	opts, err := parseRuntimeOptions(req.GetInfo().GetOptions().AsMap())
	if err != nil {
		return err
	}
	args := installArgs(detectPackageManager(dir, opts.packagemanager), opts.production)
	bin, err := h.lookPath(args[0])
	if err != nil {
		return fmt.Errorf("could not find %s on the $PATH: %w", args[0], err)
	}
	fmt.Fprintf(stdout, "Installing dependencies...\n\n")
	cmd := h.command(server.Context(), bin, args[1:])
	cmd.Dir = dir
	cmd.Stdout = struct{ io.Writer }{stdout}
	cmd.Stderr = struct{ io.Writer }{stderr}
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s failed: %w", strings.Join(args, " "), err)
	}
	fmt.Fprintf(stdout, "Finished installing dependencies\n\n")
	return closer.Close()
}

// RunPlugin runs a plugin written in Node.js (a provider or tool with `runtime: nodejs`) through
// @pulumi/pulumi's cmd/run-plugin. Policy packs (analyzers) are not supported.
func (h *host) RunPlugin(req *pulumirpc.RunPluginRequest,
	server grpc.ServerStreamingServer[pulumirpc.RunPluginResponse],
) error {
	if req.GetKind() == "analyzer" {
		return status.Error(codes.Unimplemented, "policy packs are not supported by this language host")
	}
	closer, stdout, stderr, err := rpcutil.MakeRunPluginStreams(server, false)
	if err != nil {
		return err
	}
	defer closer.Close()

	dir := req.GetInfo().GetProgramDirectory()
	opts, err := parseRuntimeOptions(req.GetInfo().GetOptions().AsMap())
	if err != nil {
		return err
	}
	nodeBin, err := h.lookPath("node")
	if err != nil {
		return fmt.Errorf("could not find node on the $PATH: %w", err)
	}
	module := os.Getenv("PULUMI_LANGUAGE_NODEJS_RUN_PATH")
	if module == "" {
		module = runPluginModule
	}
	script, err := resolveModule(server.Context(), nodeBin, dir, module)
	if err != nil {
		return err
	}
	nodeArgs, err := splitArgs(opts.nodeargs)
	if err != nil {
		return err
	}
	args := append([]string{script}, nodeArgs...)
	args = append(args, dir)
	args = append(args, req.GetArgs()...)

	env := append([]string{}, req.GetEnv()...)
	if opts.typescript {
		env = append(env, "PULUMI_NODEJS_TYPESCRIPT=true")
	}
	if opts.tsconfig != "" {
		env = append(env, "PULUMI_NODEJS_TSCONFIG_PATH="+opts.tsconfig)
	}
	cmd := h.command(server.Context(), nodeBin, args)
	cmd.Dir = req.GetPwd()
	cmd.Env = env
	cmd.Stdout = struct{ io.Writer }{stdout}
	cmd.Stderr = struct{ io.Writer }{stderr}
	if err := cmd.Run(); err != nil {
		var exitErr *exec.ExitError
		if errors.As(err, &exitErr) {
			return fmt.Errorf("Program exited with non-zero exit code: %d", exitErr.ExitCode())
		}
		return fmt.Errorf("Problem executing plugin program (could not run language executor): %w", err)
	}
	return closer.Close()
}

// RuntimeOptionsPrompts asks nothing: npm is the default package manager.
func (h *host) RuntimeOptionsPrompts(context.Context, *pulumirpc.RuntimeOptionsRequest,
) (*pulumirpc.RuntimeOptionsResponse, error) {
	return &pulumirpc.RuntimeOptionsResponse{}, nil
}

// About reports node's path and version and the package manager (for `pulumi about`).
func (h *host) About(ctx context.Context, req *pulumirpc.AboutRequest) (*pulumirpc.AboutResponse, error) {
	nodeBin, err := h.lookPath("node")
	if err != nil {
		return nil, fmt.Errorf("could not find node on the $PATH: %w", err)
	}
	resp := &pulumirpc.AboutResponse{Executable: nodeBin, Metadata: map[string]string{}}
	if out, err := exec.CommandContext(ctx, nodeBin, "--version").Output(); err == nil {
		resp.Version = strings.TrimSpace(string(out))
	}
	opts, err := parseRuntimeOptions(req.GetInfo().GetOptions().AsMap())
	if err != nil {
		return nil, err
	}
	pm := detectPackageManager(req.GetInfo().GetProgramDirectory(), opts.packagemanager)
	resp.Metadata["packagemanager"] = pm
	if pmBin, err := h.lookPath(pm); err == nil {
		if out, err := exec.CommandContext(ctx, pmBin, "--version").Output(); err == nil {
			resp.Metadata["packagemanagerVersion"] = strings.TrimSpace(string(out))
		}
	}
	return resp, nil
}

// GetProgramDependencies lists the program's installed Node.js packages.
func (h *host) GetProgramDependencies(ctx context.Context, req *pulumirpc.GetProgramDependenciesRequest,
) (*pulumirpc.GetProgramDependenciesResponse, error) {
	dir := req.GetInfo().GetProgramDirectory()
	if dir == "" {
		dir = req.GetPwd() //nolint:staticcheck // older engines
	}
	deps, err := programDependencies(dir, req.GetTransitiveDependencies())
	if err != nil {
		return nil, fmt.Errorf("failed to get node dependencies: %w", err)
	}
	return &pulumirpc.GetProgramDependenciesResponse{Dependencies: deps}, nil
}

// Cancel stops running programs and plugins.
func (h *host) Cancel(context.Context, *emptypb.Empty) (*emptypb.Empty, error) {
	h.cancelFunc()
	return &emptypb.Empty{}, nil
}
