package main

import (
	"fmt"
	"sort"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

// inputKeys are the input properties of command:local:Command (@pulumi/command 1.2.1).
// Diff compares exactly these; the outputs add stdout and stderr.
var inputKeys = []string{
	"addPreviousOutputInEnv", "archivePaths", "assetPaths", "create", "delete", "dir",
	"environment", "interpreter", "logging", "stdin", "triggers", "update",
}

// Values of the `logging` input.
const (
	logStdout          = "stdout"
	logStderr          = "stderr"
	logStdoutAndStderr = "stdoutAndStderr"
	logNone            = "none"
)

// commandInputs are the inputs that shape how a command runs. Optional strings are nil when
// absent; unknown (computed) values are treated as absent and reported by the parser.
type commandInputs struct {
	create, update, delete *string
	command                *string // `command` of the local run function
	dir, stdin             *string
	environment            map[string]string
	interpreter            []string
	logging                string
	addPreviousOutputInEnv bool
}

func (in commandInputs) logStdout() bool {
	return in.logging == "" || in.logging == logStdout || in.logging == logStdoutAndStderr
}

func (in commandInputs) logStderr() bool {
	return in.logging == "" || in.logging == logStderr || in.logging == logStdoutAndStderr
}

// inputError is one problem with one input property.
type inputError struct {
	property, reason string
}

func (e inputError) Error() string { return fmt.Sprintf("%s: %s", e.property, e.reason) }

// parseInputs reads the inputs from a property map. It returns the problems it found (wrong
// types, unsupported properties) and whether any input was still unknown.
func parseInputs(props resource.PropertyMap) (commandInputs, []inputError, bool) {
	in := commandInputs{addPreviousOutputInEnv: true}
	var errs []inputError
	unknown := false

	get := func(key string) (resource.PropertyValue, bool) {
		v, ok := props[resource.PropertyKey(key)]
		if !ok || v.IsNull() {
			return v, false
		}
		for v.IsSecret() {
			v = v.SecretValue().Element
		}
		if v.ContainsUnknowns() {
			unknown = true
			return v, false
		}
		return v, true
	}
	str := func(key string) *string {
		v, ok := get(key)
		if !ok {
			return nil
		}
		if !v.IsString() {
			errs = append(errs, inputError{key, "must be a string"})
			return nil
		}
		s := v.StringValue()
		return &s
	}
	unwrap := func(v resource.PropertyValue) resource.PropertyValue {
		for v.IsSecret() {
			v = v.SecretValue().Element
		}
		return v
	}

	in.create, in.update, in.delete = str("create"), str("update"), str("delete")
	in.command = str("command")
	in.dir, in.stdin = str("dir"), str("stdin")

	if v, ok := get("environment"); ok {
		if !v.IsObject() {
			errs = append(errs, inputError{"environment", "must be a map of strings"})
		} else {
			in.environment = map[string]string{}
			for k, e := range v.ObjectValue() {
				e = unwrap(e)
				if !e.IsString() {
					errs = append(errs, inputError{"environment", fmt.Sprintf("value of %s must be a string", k)})
					continue
				}
				in.environment[string(k)] = e.StringValue()
			}
		}
	}
	if v, ok := get("interpreter"); ok {
		if !v.IsArray() {
			errs = append(errs, inputError{"interpreter", "must be a list of strings"})
		} else {
			for _, e := range v.ArrayValue() {
				e = unwrap(e)
				if !e.IsString() {
					errs = append(errs, inputError{"interpreter", "must be a list of strings"})
					break
				}
				in.interpreter = append(in.interpreter, e.StringValue())
			}
		}
	}
	if s := str("logging"); s != nil {
		switch *s {
		case logStdout, logStderr, logStdoutAndStderr, logNone:
			in.logging = *s
		default:
			errs = append(errs, inputError{"logging",
				fmt.Sprintf("must be one of stdout, stderr, stdoutAndStderr, none; got %q", *s)})
		}
	}
	if v, ok := get("addPreviousOutputInEnv"); ok {
		if !v.IsBool() {
			errs = append(errs, inputError{"addPreviousOutputInEnv", "must be a boolean"})
		} else {
			in.addPreviousOutputInEnv = v.BoolValue()
		}
	}
	if v, ok := get("triggers"); ok && !v.IsArray() {
		errs = append(errs, inputError{"triggers", "must be a list"})
	}
	for _, key := range []string{"assetPaths", "archivePaths"} {
		if _, ok := get(key); ok {
			errs = append(errs, inputError{key, "is not supported by this build of the command provider " +
				"(see docs/toolchain-own-tools.md)"})
		}
	}
	sort.Slice(errs, func(i, j int) bool { return errs[i].property < errs[j].property })
	return in, errs, unknown
}
