// Package courier holds Courier's domain: the types every part shares (users,
// devices, blobs, conversations, messages, events), the interfaces between
// the parts, and error codes. It imports only the standard library; adapters
// live in subpackages named after what they wrap (postgres, s3, redis) and
// cmd/courier wires them together once.
package courier
