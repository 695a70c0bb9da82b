package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

// packageJSON is the part of a package.json this host reads.
type packageJSON struct {
	Name            string                   `json:"name"`
	Version         string                   `json:"version"`
	Main            string                   `json:"main"`
	Pulumi          *plugin.PulumiPluginJSON `json:"pulumi"`
	Dependencies    map[string]string        `json:"dependencies"`
	DevDependencies map[string]string        `json:"devDependencies"`
}

func readPackageJSON(path string) (*packageJSON, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var p packageJSON
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("parsing %s: %w", path, err)
	}
	return &p, nil
}

// installedPackage is one package found in a node_modules folder.
type installedPackage struct {
	dir  string
	info *packageJSON
}

// installedPackages lists the packages installed under dir/node_modules, following nested
// node_modules folders of those packages too (npm nests conflicting versions there). Symlinked
// packages (workspaces, `npm link`) are followed once.
func installedPackages(dir string) ([]installedPackage, error) {
	var out []installedPackage
	var errs []error
	seen := map[string]bool{}
	var visit func(nodeModules string)
	addPackage := func(pkgDir string) {
		real, err := filepath.EvalSymlinks(pkgDir)
		if err != nil || seen[real] {
			return
		}
		seen[real] = true
		info, err := readPackageJSON(filepath.Join(real, "package.json"))
		if err != nil {
			if !errors.Is(err, os.ErrNotExist) {
				errs = append(errs, err)
			}
			return
		}
		out = append(out, installedPackage{dir: real, info: info})
		visit(filepath.Join(real, "node_modules"))
	}
	visit = func(nodeModules string) {
		entries, err := os.ReadDir(nodeModules)
		if err != nil {
			return
		}
		for _, e := range entries {
			name := e.Name()
			if strings.HasPrefix(name, ".") {
				continue
			}
			if strings.HasPrefix(name, "@") {
				scoped, err := os.ReadDir(filepath.Join(nodeModules, name))
				if err != nil {
					continue
				}
				for _, s := range scoped {
					addPackage(filepath.Join(nodeModules, name, s.Name()))
				}
				continue
			}
			addPackage(filepath.Join(nodeModules, name))
		}
	}
	visit(filepath.Join(dir, "node_modules"))
	sort.Slice(out, func(i, j int) bool { return out[i].dir < out[j].dir })
	return out, errors.Join(errs...)
}

// pluginOf says whether a package.json announces a resource plugin ("pulumi": {"resource":
// true}) and which: the name defaults to the package name without its @pulumi/ scope, the
// version to the package version.
func pluginOf(info *packageJSON) (*pulumirpc.PackageDependency, error) {
	if info.Pulumi == nil || !info.Pulumi.Resource {
		return nil, nil
	}
	name := info.Pulumi.Name
	if name == "" {
		if !strings.HasPrefix(info.Name, "@pulumi/") {
			return nil, fmt.Errorf("package %q announces a plugin but has no pulumi.name", info.Name)
		}
		name = strings.TrimPrefix(info.Name, "@pulumi/")
	}
	version := info.Pulumi.Version
	if version == "" {
		version = info.Version
	}
	if version == "" {
		return nil, fmt.Errorf("package %q announces plugin %q without a version", info.Name, name)
	}
	if !strings.HasPrefix(version, "v") {
		version = "v" + version
	}
	dep := &pulumirpc.PackageDependency{
		Name: name, Kind: "resource", Version: version, Server: info.Pulumi.Server,
	}
	if p := info.Pulumi.Parameterization; p != nil {
		dep.Parameterization = &pulumirpc.PackageParameterization{Name: p.Name, Version: p.Version, Value: p.Value}
	}
	if p := info.Pulumi.ExtensionParameterization; p != nil {
		dep.Extension = &pulumirpc.PackageParameterization{Name: p.Name, Version: p.Version, Value: p.Value}
	}
	return dep, nil
}

// requiredPackages is the set of resource plugins the program's installed packages announce,
// deduplicated by name, version and parameterization.
func requiredPackages(programDir string) ([]*pulumirpc.PackageDependency, error) {
	pkgs, err := installedPackages(programDir)
	var errs []error
	if err != nil {
		errs = append(errs, err)
	}
	var deps []*pulumirpc.PackageDependency
	seen := map[string]bool{}
	for _, p := range pkgs {
		dep, err := pluginOf(p.info)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if dep == nil {
			continue
		}
		key := dep.Name + "@" + dep.Version
		if dep.Parameterization != nil {
			key += "/" + dep.Parameterization.Name + "@" + dep.Parameterization.Version
		}
		if seen[key] {
			continue
		}
		seen[key] = true
		deps = append(deps, dep)
	}
	return deps, errors.Join(errs...)
}

// programDependencies lists the program's installed packages: the direct dependencies of its
// package.json as installed in its node_modules, or every installed package when transitive.
func programDependencies(programDir string, transitive bool) ([]*pulumirpc.DependencyInfo, error) {
	var deps []*pulumirpc.DependencyInfo
	if transitive {
		pkgs, err := installedPackages(programDir)
		if err != nil && len(pkgs) == 0 {
			return nil, err
		}
		seen := map[string]bool{}
		for _, p := range pkgs {
			key := p.info.Name + "@" + p.info.Version
			if !seen[key] {
				seen[key] = true
				deps = append(deps, &pulumirpc.DependencyInfo{Name: p.info.Name, Version: p.info.Version})
			}
		}
	} else {
		root, err := readPackageJSON(filepath.Join(programDir, "package.json"))
		if err != nil {
			return nil, err
		}
		names := map[string]bool{}
		for n := range root.Dependencies {
			names[n] = true
		}
		for n := range root.DevDependencies {
			names[n] = true
		}
		for n := range names {
			info, err := readPackageJSON(filepath.Join(programDir, "node_modules", n, "package.json"))
			if err != nil {
				return nil, fmt.Errorf("dependency %s is not installed (run `pulumi install`): %w", n, err)
			}
			deps = append(deps, &pulumirpc.DependencyInfo{Name: n, Version: info.Version})
		}
	}
	sort.Slice(deps, func(i, j int) bool {
		if deps[i].Name != deps[j].Name {
			return deps[i].Name < deps[j].Name
		}
		return deps[i].Version < deps[j].Version
	})
	return deps, nil
}
