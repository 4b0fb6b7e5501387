// Package upload is Courier's upload endpoint, /v1/uploads/: resumable
// uploads from phones into S3 on tusd v2 and its s3store.
//
// One set of uploads speaks three protocols: tus 1.0 (creation,
// creation-with-upload, termination), and the IETF "Resumable Uploads for
// HTTP" draft that iOS 17+ URLSession speaks natively, interop versions 3–6
// through tusd's experimental support and 7–8 through draft.go. All of
// them go through the same store (store.go: s3store with blob IDs as
// upload IDs), the same Redis locker (upload/redislock) and the same hooks
// (hooks.go): validation and per-user limits at creation, sha256
// verification, the blob row and the processing task at finish.
//
// Every request is authenticated; a request on an upload that is not the
// device's user's answers 404, like an unknown one. Creation is idempotent
// by the client's idempotency key (tus metadata "idempotency-key" or the
// Idempotency-Key header): a repeat gets the first upload's Location and
// offset. Unfinished uploads expire (Upload-Expires); RunSweeper removes
// them. docs/uploads.md is the client-facing description.
package upload
