package main

import (
	"context"
	"fmt"
	"sort"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

const (
	commandType = "command:local:Command"
	runFunction = "command:local:run"
)

// commandProvider implements pulumirpc.ResourceProviderServer for the local Command resource
// and the local run function. Everything else (remote commands, Construct, Call, Handshake,
// Parameterize, ...) answers codes.Unimplemented through the embedded type; the engine falls
// back to Configure when Handshake is unimplemented.
type commandProvider struct {
	pulumirpc.UnimplementedResourceProviderServer

	version string
	// log receives one line of command output, attributed to a resource URN ("" for invokes).
	log func(ctx context.Context, urn string, line string)

	// cancelled by the Cancel RPC: kills running commands.
	cancelCtx  context.Context
	cancelFunc context.CancelFunc
}

func newProvider(version string) *commandProvider {
	ctx, cancel := context.WithCancel(context.Background())
	return &commandProvider{version: version, cancelCtx: ctx, cancelFunc: cancel}
}

// Properties cross the wire without secrets (Configure says we do not accept them: the engine
// then hands us plain values and marks outputs secret where the same-named input was).
func unmarshal(s *structpb.Struct, keepUnknowns bool) (resource.PropertyMap, error) {
	return plugin.UnmarshalProperties(s, plugin.MarshalOptions{
		KeepUnknowns: keepUnknowns, SkipNulls: true, KeepSecrets: false,
	})
}

func marshal(m resource.PropertyMap, keepUnknowns bool) (*structpb.Struct, error) {
	return plugin.MarshalProperties(m, plugin.MarshalOptions{KeepUnknowns: keepUnknowns, SkipNulls: true})
}

func (p *commandProvider) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: p.version}, nil
}

func (p *commandProvider) GetSchema(ctx context.Context, req *pulumirpc.GetSchemaRequest,
) (*pulumirpc.GetSchemaResponse, error) {
	if req.GetSubpackageName() != "" {
		return nil, status.Errorf(codes.NotFound, "the command provider has no subpackage %q", req.GetSubpackageName())
	}
	s, err := schemaJSON(p.version)
	if err != nil {
		return nil, err
	}
	return &pulumirpc.GetSchemaResponse{Schema: s}, nil
}

// The provider has no configuration.
func (p *commandProvider) CheckConfig(ctx context.Context, req *pulumirpc.CheckRequest,
) (*pulumirpc.CheckResponse, error) {
	return &pulumirpc.CheckResponse{Inputs: req.GetNews()}, nil
}

func (p *commandProvider) DiffConfig(context.Context, *pulumirpc.DiffRequest) (*pulumirpc.DiffResponse, error) {
	return &pulumirpc.DiffResponse{Changes: pulumirpc.DiffResponse_DIFF_NONE}, nil
}

func (p *commandProvider) Configure(context.Context, *pulumirpc.ConfigureRequest,
) (*pulumirpc.ConfigureResponse, error) {
	return &pulumirpc.ConfigureResponse{SupportsPreview: true}, nil
}

func checkType(tok string) error {
	if tok != commandType {
		return status.Errorf(codes.InvalidArgument,
			"unknown resource type %q: this build of the command provider implements only %s", tok, commandType)
	}
	return nil
}

func typeOf(urn string) string {
	if u := resource.URN(urn); u.IsValid() {
		return string(u.Type())
	}
	return ""
}

// Check validates the inputs and returns them unchanged.
func (p *commandProvider) Check(ctx context.Context, req *pulumirpc.CheckRequest) (*pulumirpc.CheckResponse, error) {
	if err := checkType(typeOf(req.GetUrn())); err != nil {
		return nil, err
	}
	news, err := unmarshal(req.GetNews(), true)
	if err != nil {
		return nil, err
	}
	_, problems, _ := parseInputs(news)
	resp := &pulumirpc.CheckResponse{Inputs: req.GetNews()}
	for _, e := range problems {
		resp.Failures = append(resp.Failures, &pulumirpc.CheckFailure{Property: e.property, Reason: e.reason})
	}
	return resp, nil
}

// Diff compares the old and new inputs: any change is an update (which reruns `update`, or
// `create` when there is no `update`), a change of `triggers` is a replacement.
func (p *commandProvider) Diff(ctx context.Context, req *pulumirpc.DiffRequest) (*pulumirpc.DiffResponse, error) {
	oldStruct := req.GetOldInputs()
	if oldStruct == nil {
		oldStruct = req.GetOlds()
	}
	olds, err := unmarshal(oldStruct, true)
	if err != nil {
		return nil, err
	}
	news, err := unmarshal(req.GetNews(), true)
	if err != nil {
		return nil, err
	}
	return diffInputs(olds, news), nil
}

func diffInputs(olds, news resource.PropertyMap) *pulumirpc.DiffResponse {
	resp := &pulumirpc.DiffResponse{
		Changes:         pulumirpc.DiffResponse_DIFF_NONE,
		DetailedDiff:    map[string]*pulumirpc.PropertyDiff{},
		HasDetailedDiff: true,
	}
	for _, key := range inputKeys {
		o, hasOld := olds[resource.PropertyKey(key)]
		n, hasNew := news[resource.PropertyKey(key)]
		hasOld = hasOld && !o.IsNull()
		hasNew = hasNew && !n.IsNull()
		if !hasOld && !hasNew {
			continue
		}
		if hasOld && hasNew && !n.ContainsUnknowns() && o.DeepEquals(n) {
			continue
		}
		kind := pulumirpc.PropertyDiff_UPDATE
		switch {
		case !hasOld:
			kind = pulumirpc.PropertyDiff_ADD
		case !hasNew:
			kind = pulumirpc.PropertyDiff_DELETE
		}
		if key == "triggers" {
			kind++ // the _REPLACE variant of each kind
			resp.Replaces = append(resp.Replaces, key)
		}
		resp.Diffs = append(resp.Diffs, key)
		resp.DetailedDiff[key] = &pulumirpc.PropertyDiff{Kind: kind, InputDiff: true}
		resp.Changes = pulumirpc.DiffResponse_DIFF_SOME
	}
	return resp
}

// outputs are the inputs plus stdout and stderr (unknown while previewing a run).
func outputs(inputs resource.PropertyMap, res runResult, unknown bool) resource.PropertyMap {
	out := inputs.Copy()
	if unknown {
		out["stdout"] = resource.MakeComputed(resource.NewStringProperty(""))
		out["stderr"] = resource.MakeComputed(resource.NewStringProperty(""))
	} else {
		out["stdout"] = resource.NewStringProperty(res.stdout)
		out["stderr"] = resource.NewStringProperty(res.stderr)
	}
	return out
}

func previousResult(state resource.PropertyMap) runResult {
	var r runResult
	if v, ok := state["stdout"]; ok && v.IsString() {
		r.stdout = v.StringValue()
	}
	if v, ok := state["stderr"]; ok && v.IsString() {
		r.stderr = v.StringValue()
	}
	return r
}

// run runs one command of a resource, logging its output against the resource.
func (p *commandProvider) run(ctx context.Context, urn, command string, in commandInputs, previous runResult,
) (runResult, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(p.cancelCtx, cancel)
	defer stop()
	var logLine func(string)
	if p.log != nil {
		logLine = func(line string) { p.log(ctx, urn, line) }
	}
	return runCommand(ctx, command, in, previous, logLine)
}

func invalidInputs(problems []inputError) error {
	msg := "invalid inputs:"
	for _, e := range problems {
		msg += " " + e.Error() + ";"
	}
	return status.Error(codes.InvalidArgument, msg)
}

// Create runs `create` (not while previewing) and returns the inputs with its stdout and stderr.
func (p *commandProvider) Create(ctx context.Context, req *pulumirpc.CreateRequest,
) (*pulumirpc.CreateResponse, error) {
	if err := checkType(typeOf(req.GetUrn())); err != nil {
		return nil, err
	}
	inputs, err := unmarshal(req.GetProperties(), req.GetPreview())
	if err != nil {
		return nil, err
	}
	in, problems, unknown := parseInputs(inputs)
	if len(problems) > 0 {
		return nil, invalidInputs(problems)
	}
	name := req.GetName()
	if name == "" {
		name = resource.URN(req.GetUrn()).Name()
	}
	id, err := resource.NewUniqueHex(name, 8, 0)
	if err != nil {
		return nil, err
	}

	var res runResult
	willRun := in.create != nil || unknown
	if req.GetPreview() {
		return createResponse(id, outputs(inputs, res, willRun), true)
	}
	if unknown {
		return nil, status.Error(codes.InvalidArgument, "inputs are still unknown outside of a preview")
	}
	if in.create != nil {
		if res, err = p.run(ctx, req.GetUrn(), *in.create, in, runResult{}); err != nil {
			return nil, err
		}
	}
	return createResponse(id, outputs(inputs, res, false), false)
}

func createResponse(id string, props resource.PropertyMap, preview bool) (*pulumirpc.CreateResponse, error) {
	s, err := marshal(props, preview)
	if err != nil {
		return nil, err
	}
	return &pulumirpc.CreateResponse{Id: id, Properties: s}, nil
}

// Read returns the recorded state as it is: a command's effects cannot be read back.
func (p *commandProvider) Read(ctx context.Context, req *pulumirpc.ReadRequest) (*pulumirpc.ReadResponse, error) {
	if err := checkType(typeOf(req.GetUrn())); err != nil {
		return nil, err
	}
	return &pulumirpc.ReadResponse{Id: req.GetId(), Properties: req.GetProperties(), Inputs: req.GetInputs()}, nil
}

// Update runs `update`, or `create` when there is no `update` (not while previewing), with the
// previous stdout and stderr in the environment.
func (p *commandProvider) Update(ctx context.Context, req *pulumirpc.UpdateRequest,
) (*pulumirpc.UpdateResponse, error) {
	if err := checkType(typeOf(req.GetUrn())); err != nil {
		return nil, err
	}
	olds, err := unmarshal(req.GetOlds(), true)
	if err != nil {
		return nil, err
	}
	news, err := unmarshal(req.GetNews(), req.GetPreview())
	if err != nil {
		return nil, err
	}
	in, problems, unknown := parseInputs(news)
	if len(problems) > 0 {
		return nil, invalidInputs(problems)
	}
	command := in.update
	if command == nil {
		command = in.create
	}
	previous := previousResult(olds)
	if req.GetPreview() {
		return updateResponse(outputs(news, previous, command != nil || unknown), true)
	}
	if unknown {
		return nil, status.Error(codes.InvalidArgument, "inputs are still unknown outside of a preview")
	}
	res := previous
	if command != nil {
		if res, err = p.run(ctx, req.GetUrn(), *command, in, previous); err != nil {
			return nil, err
		}
	}
	return updateResponse(outputs(news, res, false), false)
}

func updateResponse(props resource.PropertyMap, preview bool) (*pulumirpc.UpdateResponse, error) {
	s, err := marshal(props, preview)
	if err != nil {
		return nil, err
	}
	return &pulumirpc.UpdateResponse{Properties: s}, nil
}

// Delete runs `delete` (if set) with the recorded stdout and stderr in the environment.
func (p *commandProvider) Delete(ctx context.Context, req *pulumirpc.DeleteRequest) (*emptypb.Empty, error) {
	if err := checkType(typeOf(req.GetUrn())); err != nil {
		return nil, err
	}
	state, err := unmarshal(req.GetProperties(), false)
	if err != nil {
		return nil, err
	}
	in, problems, _ := parseInputs(state)
	if len(problems) > 0 {
		return nil, invalidInputs(problems)
	}
	if in.delete != nil {
		if _, err := p.run(ctx, req.GetUrn(), *in.delete, in, previousResult(state)); err != nil {
			return nil, err
		}
	}
	return &emptypb.Empty{}, nil
}

// Invoke implements command:local:run: run `command` now (also during previews) and return the
// arguments with its stdout and stderr.
func (p *commandProvider) Invoke(ctx context.Context, req *pulumirpc.InvokeRequest,
) (*pulumirpc.InvokeResponse, error) {
	if req.GetTok() != runFunction {
		return nil, status.Errorf(codes.InvalidArgument,
			"unknown function %q: this build of the command provider implements only %s", req.GetTok(), runFunction)
	}
	args, err := unmarshal(req.GetArgs(), true)
	if err != nil {
		return nil, err
	}
	in, problems, unknown := parseInputs(args)
	if in.command == nil && !unknown {
		problems = append(problems, inputError{"command", "is required"})
	}
	for _, key := range []string{"create", "update", "delete", "triggers"} {
		if _, ok := args[resource.PropertyKey(key)]; ok {
			problems = append(problems, inputError{key, "is not an argument of " + runFunction})
		}
	}
	if len(problems) > 0 {
		var failures []*pulumirpc.CheckFailure
		sort.Slice(problems, func(i, j int) bool { return problems[i].property < problems[j].property })
		for _, e := range problems {
			failures = append(failures, &pulumirpc.CheckFailure{Property: e.property, Reason: e.reason})
		}
		return &pulumirpc.InvokeResponse{Failures: failures}, nil
	}
	if unknown {
		return nil, status.Error(codes.InvalidArgument, runFunction+": arguments are not known yet")
	}
	res, err := p.run(ctx, "", *in.command, in, runResult{})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", runFunction, err)
	}
	ret, err := marshal(outputs(args, res, false), false)
	if err != nil {
		return nil, err
	}
	return &pulumirpc.InvokeResponse{Return: ret}, nil
}

// Cancel kills running commands; the engine sends it when the user interrupts an update.
func (p *commandProvider) Cancel(context.Context, *emptypb.Empty) (*emptypb.Empty, error) {
	p.cancelFunc()
	return &emptypb.Empty{}, nil
}
