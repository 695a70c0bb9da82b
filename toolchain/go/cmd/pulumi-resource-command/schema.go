package main

import "encoding/json"

// schemaJSON is the Pulumi package schema of what this provider implements: the local Command
// resource and the local run function, with the property shapes of @pulumi/command 1.2.1
// (asset and archive properties are declared for compatibility, but rejected by Check).
func schemaJSON(version string) (string, error) {
	str := map[string]any{"type": "string"}
	strList := map[string]any{"type": "array", "items": str}
	prop := func(base map[string]any, doc string) map[string]any {
		p := map[string]any{"description": doc}
		for k, v := range base {
			p[k] = v
		}
		return p
	}
	common := map[string]any{
		"dir":         prop(str, "Directory to run the command in (default: the program's working directory)."),
		"environment": prop(map[string]any{"type": "object", "additionalProperties": str}, "Additional environment variables for the command."),
		"interpreter": prop(strList, "Program and arguments that run the command (default: [\"/bin/sh\", \"-c\"])."),
		"stdin":       prop(str, "Text passed to the command's standard input."),
		"logging":     prop(map[string]any{"$ref": "#/types/command:local:Logging"}, "Which output streams are logged (default: both)."),
		"addPreviousOutputInEnv": prop(map[string]any{"type": "boolean"},
			"Pass the previous stdout and stderr as PULUMI_COMMAND_STDOUT and PULUMI_COMMAND_STDERR (default: true)."),
		"assetPaths":   prop(strList, "Not supported by this build."),
		"archivePaths": prop(strList, "Not supported by this build."),
	}
	lifecycle := map[string]any{
		"create":   prop(str, "Command run when the resource is created (and on updates when `update` is not set)."),
		"update":   prop(str, "Command run when the resource's inputs change."),
		"delete":   prop(str, "Command run when the resource is deleted."),
		"triggers": prop(map[string]any{"type": "array", "items": map[string]any{"$ref": "pulumi.json#/Any"}}, "Values whose change replaces the resource."),
	}
	outs := map[string]any{
		"stdout": prop(str, "Standard output of the last run, without its final newline."),
		"stderr": prop(str, "Standard error of the last run, without its final newline."),
	}
	merge := func(maps ...map[string]any) map[string]any {
		m := map[string]any{}
		for _, x := range maps {
			for k, v := range x {
				m[k] = v
			}
		}
		return m
	}
	runInputs := merge(common, map[string]any{"command": prop(str, "The command to run.")})

	schema := map[string]any{
		"name":        "command",
		"displayName": "Command",
		"version":     version,
		"description": "Runs local commands as part of the Pulumi resource model (inception's own build of the local subset).",
		"license":     "Apache-2.0",
		"meta":        map[string]any{"moduleFormat": "(.*)"},
		"language":    map[string]any{"nodejs": map[string]any{"respectSchemaVersion": true}},
		"config":      map[string]any{},
		"provider":    map[string]any{},
		"types": map[string]any{
			"command:local:Logging": map[string]any{
				"type": "string",
				"enum": []any{
					map[string]any{"name": "stdout", "value": "stdout"},
					map[string]any{"name": "stderr", "value": "stderr"},
					map[string]any{"name": "stdoutAndStderr", "value": "stdoutAndStderr"},
					map[string]any{"name": "none", "value": "none"},
				},
			},
		},
		"resources": map[string]any{
			commandType: map[string]any{
				"description":      "A command run locally when the resource is created, updated or deleted.",
				"inputProperties":  merge(common, lifecycle),
				"properties":       merge(common, lifecycle, outs),
				"required":         []string{"stdout", "stderr"},
				"replaceOnChanges": []string{"triggers[*]"},
			},
		},
		"functions": map[string]any{
			runFunction: map[string]any{
				"description": "Runs a local command on every preview and update.",
				"inputs":      map[string]any{"properties": runInputs, "required": []string{"command"}, "type": "object"},
				"outputs": map[string]any{
					"properties": merge(runInputs, outs),
					"required":   []string{"command", "stdout", "stderr"},
					"type":       "object",
				},
			},
		},
	}
	b, err := json.MarshalIndent(schema, "", "  ")
	return string(b), err
}
