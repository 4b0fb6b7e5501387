package upload

import (
	"net/http"
	"strconv"
)

// draft is what one interop version of the IETF "Resumable Uploads for
// HTTP" draft says where the versions differ; the texts are in the
// draft's tagged revisions (docs/uploads.md lists them). Everything else
// is common to all of them.
type draft struct {
	version string
	// incomplete: draft -01 (version 3) states completeness with
	// Upload-Incomplete, true while more is to come; -02 on use
	// Upload-Complete, the other way round.
	incomplete bool
	// partialType: from -04 (version 6) an append carries Content-Type:
	// application/partial-upload.
	partialType bool
	// uploadLength: from -05 (version 6) Upload-Length declares the length.
	uploadLength bool
	// limitAge is the Upload-Limit key for the upload's lifetime:
	// "expires" in -05 (version 6), "max-age" from -06 (version 7). Before
	// version 6 there is no Upload-Limit.
	limitAge string
	// problems: from -04 (version 6) the offset and completed-upload
	// errors carry RFC 9457 problem types.
	problems bool
	// progress: from -03 (version 5) the server may send 104 responses
	// with Upload-Offset while the content is being received.
	progress bool
	// createdAppend: up to -05 (version 6) an append that leaves the upload
	// incomplete answers 201 with the completeness header; from -06 any
	// 2xx (Courier sends 204).
	createdAppend bool
	// strictHead: up to -05, HEAD and DELETE carrying Upload-Offset or the
	// completeness header (and in -05 Upload-Length) are refused with 400.
	strictHead bool
	// acceptPatch: from -10 (version 8) OPTIONS lists Accept-Patch.
	acceptPatch bool
	// completedLength: in -11 (version 8) content appended to a complete
	// upload is an inconsistent length, not a completed-upload problem.
	completedLength bool
	// ignoreInvalid: in -11 (version 8) a field whose value is not of its
	// type "MUST cause the entire header field to be ignored"; before, an
	// invalid Upload-Length is refused with 400.
	ignoreInvalid bool
	// finalBlob: from -06 (version 7) the completing response is what the
	// target resource answers for the whole representation, 200 with the
	// blob; before, 201 (recommended), with the blob too.
	finalStatus int
}

var drafts = map[string]*draft{
	"3": {version: "3", incomplete: true, createdAppend: true, strictHead: true, finalStatus: http.StatusCreated},
	"4": {version: "4", createdAppend: true, strictHead: true, finalStatus: http.StatusCreated},
	"5": {version: "5", progress: true, createdAppend: true, strictHead: true, finalStatus: http.StatusCreated},
	"6": {version: "6", partialType: true, uploadLength: true, limitAge: "expires", problems: true, progress: true,
		createdAppend: true, strictHead: true, finalStatus: http.StatusCreated},
	"7": {version: "7", partialType: true, uploadLength: true, limitAge: "max-age", problems: true, progress: true,
		finalStatus: http.StatusOK},
	"8": {version: "8", partialType: true, uploadLength: true, limitAge: "max-age", problems: true, progress: true,
		acceptPatch: true, completedLength: true, ignoreInvalid: true, finalStatus: http.StatusOK},
}

// draftOf returns the draft a request speaks, nil for none (tus 1.0), and
// ok false for an interop version Courier does not know.
func draftOf(r *http.Request) (d *draft, ok bool) {
	v := r.Header.Get("Upload-Draft-Interop-Version")
	if v == "" {
		return nil, true
	}
	d, ok = drafts[v]
	return d, ok
}

// completeHeader is the name of the version's completeness header.
func (d *draft) completeHeader() string {
	if d.incomplete {
		return "Upload-Incomplete"
	}
	return "Upload-Complete"
}

// setComplete says in h whether the upload is complete.
func (d *draft) setComplete(h http.Header, complete bool) {
	if d.incomplete {
		complete = !complete
	}
	if complete {
		h.Set(d.completeHeader(), "?1")
	} else {
		h.Set(d.completeHeader(), "?0")
	}
}

// requestComplete reads the request's completeness header; ok is false
// when it is missing or not a Structured Field Boolean.
func (d *draft) requestComplete(r *http.Request) (complete, ok bool) {
	complete, ok = sfBool(r.Header.Get(d.completeHeader()))
	if d.incomplete {
		complete = !complete
	}
	return complete, ok
}

// setLimit sets Upload-Limit for versions that have it.
func (d *draft) setLimit(h http.Header, maxSize int64, expiry float64) {
	if d.limitAge == "" {
		return
	}
	h.Set("Upload-Limit", "max-size="+strconv.FormatInt(maxSize, 10)+", "+d.limitAge+"="+strconv.Itoa(int(expiry)))
}

// problem answers an error the draft gives a problem type; versions
// before problem types get the same status and detail without the type.
func (d *draft) problem(w http.ResponseWriter, r *http.Request, status int, typ, detail string, extra map[string]any) {
	if !d.problems || (typ == problemLength && d.limitAge == "expires") {
		typ = "" // the inconsistent-length type came with -06
	}
	writeProblem(w, r, status, typ, detail, extra)
}
