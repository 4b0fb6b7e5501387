package web

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// vendorLock is static/vendor/lock.json, written by scripts/vendor-js.mjs.
type vendorLock struct {
	Packages []struct {
		Name, Version, Integrity string
	} `json:"packages"`
	Files []struct {
		Package string `json:"package"`
		Version string `json:"version"`
		File    string `json:"file"`
		SHA256  string `json:"sha256"`
		// NPMSHA256 is the file in npm's tarball, before its imports of
		// other vendored packages were made relative.
		NPMSHA256 string `json:"npm_sha256"`
	} `json:"files"`
}

// TestVendored checks static/vendor against its lock file: every file
// listed is there with the SHA-256 the lock gives it, of a package
// version the lock names, and no script is there that the lock does not
// list. A hand edit of a vendored library, or a file left behind by an
// update, fails here; `node scripts/vendor-js.mjs` rewrites both from npm
// (and `git diff --exit-code web/static/vendor` after it shows the tree is
// what npm serves).
func TestVendored(t *testing.T) {
	b, err := os.ReadFile("static/vendor/lock.json")
	if err != nil {
		t.Fatal(err)
	}
	var lock vendorLock
	if err := json.Unmarshal(b, &lock); err != nil {
		t.Fatal(err)
	}
	if len(lock.Files) == 0 {
		t.Fatal("lock.json lists no files")
	}
	versions := map[string]string{}
	for _, p := range lock.Packages {
		versions[p.Name] = p.Version
	}
	listed := map[string]bool{}
	for _, f := range lock.Files {
		listed[f.File] = true
		if len(f.NPMSHA256) != 64 {
			t.Errorf("%s: no npm_sha256 in the lock", f.File)
		}
		if versions[f.Package] != f.Version || !strings.HasPrefix(f.File, f.Package+"/") {
			t.Errorf("%s: package %s@%s is not one the lock pins", f.File, f.Package, f.Version)
		}
		data, err := os.ReadFile(filepath.Join("static/vendor", filepath.FromSlash(f.File)))
		if err != nil {
			t.Errorf("%s: %v", f.File, err)
			continue
		}
		if sum := sha256.Sum256(data); hex.EncodeToString(sum[:]) != f.SHA256 {
			t.Errorf("%s differs from lock.json (sha256 %x, want %s)", f.File, sum, f.SHA256)
		}
		// What the binary serves, not only what the tree holds.
		if served, err := fs.ReadFile(static, "vendor/"+f.File); err != nil || !bytes.Equal(served, data) {
			t.Errorf("%s is not embedded as it is on disk: %v", f.File, err)
		}
	}
	err = filepath.WalkDir("static/vendor", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".js") {
			return err
		}
		rel, _ := filepath.Rel("static/vendor", path)
		if !listed[filepath.ToSlash(rel)] {
			t.Errorf("%s is vendored but not in lock.json", rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestServiceWorkerShell checks that sw.js caches every module of
// static/e2e the page loads (all but index.js and the tests): a page
// reloaded offline imports them from that cache, and one missing breaks
// the whole page, not only encryption.
func TestServiceWorkerShell(t *testing.T) {
	sw, err := os.ReadFile("static/sw.js")
	if err != nil {
		t.Fatal(err)
	}
	mods, err := filepath.Glob("static/e2e/*.js")
	if err != nil || len(mods) == 0 {
		t.Fatalf("no modules in static/e2e: %v", err)
	}
	for _, m := range mods {
		name := strings.TrimSuffix(filepath.Base(m), ".js")
		if name != "index" && !bytes.Contains(sw, []byte("'"+name+"'")) {
			t.Errorf("sw.js does not cache /e2e/%s.js", name)
		}
	}
}
