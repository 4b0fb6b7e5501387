package courier_test

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/courier-chat/courier"

// pkgGraph is `go list -deps ./...`: every package of the module and
// everything they import, with whether each is in the standard library.
type pkgGraph struct {
	imports  map[string][]string
	standard map[string]bool
}

func loadGraph(t *testing.T) *pkgGraph {
	t.Helper()
	out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}|{{.Standard}}|{{join .Imports \",\"}}", "./...").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	g := &pkgGraph{imports: map[string][]string{}, standard: map[string]bool{}}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.SplitN(line, "|", 3)
		g.standard[f[0]] = f[1] == "true"
		if f[2] != "" {
			g.imports[f[0]] = strings.Split(f[2], ",")
		}
	}
	return g
}

// deps returns every package pkg depends on, directly or not.
func (g *pkgGraph) deps(pkg string) []string {
	seen := map[string]bool{}
	var walk func(string)
	walk = func(p string) {
		for _, d := range g.imports[p] {
			if !seen[d] {
				seen[d] = true
				walk(d)
			}
		}
	}
	walk(pkg)
	var out []string
	for d := range seen {
		out = append(out, d)
	}
	slices.Sort(out)
	return out
}

// local returns the module path of p relative to the module ("" for the
// root package), and whether p is in the module at all.
func local(p string) (string, bool) {
	if p == module {
		return "", true
	}
	rel, ok := strings.CutPrefix(p, module+"/")
	return rel, ok
}

// storageOrQueue reports whether p is a client of a storage service or
// queue.
func storageOrQueue(p string) bool {
	for _, s := range []string{"github.com/jackc/pgx", "github.com/redis/go-redis", "github.com/hibiken/asynq",
		"github.com/minio/minio-go", "github.com/aws/aws-sdk-go-v2", "github.com/tus/tusd"} {
		if strings.HasPrefix(p, s) {
			return true
		}
	}
	return false
}

// The layering docs/architecture.md draws, checked on the real import
// graph: each rule names the packages it covers and what they must not
// depend on (directly or through others).
func TestArchitecture(t *testing.T) {
	g := loadGraph(t)
	adapters := []string{"postgres", "redis", "s3", "upload/redislock", "inmem"}
	testSupport := []string{"internal/testenv", "internal/testserver", "internal/clienttest", "internal/bustest", "internal/teststack", "internal/faultnet"}
	rules := []struct {
		name   string
		pkgs   []string
		direct bool // only direct imports count
		bad    func(dep string) bool
	}{
		{"the root package imports only the standard library", []string{""}, false,
			func(d string) bool { return !g.standard[d] && d != "C" }}, // "C": cgo inside the standard library
		{"an adapter imports of the module only the root and internal/batch: the interfaces it implements live at the root",
			adapters, true, func(d string) bool {
				rel, ok := local(d)
				return ok && rel != "" && rel != "internal/batch"
			}},
		{"pure media code knows nothing of queues or storage", []string{"thumbnails", "transcode"}, false,
			func(d string) bool {
				rel, ok := local(d)
				return storageOrQueue(d) || (ok && rel != "")
			}},
		{"the client SDK links no server code and no server-side SDK", []string{"client"}, false,
			func(d string) bool {
				rel, ok := local(d)
				// The root vocabulary and the SDK's own packages (client/e2e).
				return storageOrQueue(d) || strings.HasPrefix(d, "github.com/prometheus/") ||
					(ok && rel != "" && !strings.HasPrefix(rel, "client/"))
			}},
		{"upload stands on interfaces: no worker, queue, database or Redis client, image decoder", []string{"upload"}, false,
			func(d string) bool {
				rel, ok := local(d)
				for _, bad := range []string{"github.com/hibiken/asynq", "github.com/jackc/pgx", "github.com/redis/go-redis",
					"github.com/disintegration/imaging", "github.com/gen2brain/heic"} {
					if strings.HasPrefix(d, bad) {
						return true
					}
				}
				return ok && slices.Contains([]string{"worker", "postgres", "redis", "upload/redislock", "thumbnails", "transcode", "messaging"}, rel)
			}},
		{"only tests and test support use test support", nil, true,
			func(d string) bool {
				rel, ok := local(d)
				return ok && slices.Contains(testSupport, rel)
			}},
		{"nothing imports cmd", nil, true,
			func(d string) bool { rel, ok := local(d); return ok && strings.HasPrefix(rel, "cmd/") }},
	}
	var all []string
	for p := range g.imports {
		if rel, ok := local(p); ok && !slices.Contains(testSupport, rel) {
			all = append(all, rel)
		}
	}
	for _, r := range rules {
		pkgs := r.pkgs
		if pkgs == nil {
			pkgs = all
		}
		for _, rel := range pkgs {
			p := module
			if rel != "" {
				p += "/" + rel
			}
			if _, listed := g.standard[p]; !listed {
				t.Errorf("%s: package %q is not in the module any more: update the rule", r.name, rel)
				continue
			}
			deps := g.imports[p]
			if !r.direct {
				deps = g.deps(p)
			}
			for _, d := range deps {
				if r.bad(d) {
					t.Errorf("%s: %s imports %s", r.name, p, d)
				}
			}
		}
	}
}
