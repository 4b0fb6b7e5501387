-- Encrypted conversations (docs/e2e.md): chosen at creation, never changed.
-- Their message bodies are ciphertext envelopes, and a send must name
-- exactly the recipient devices of the members (their live devices with
-- an identity key), which the insert checks under the conversation's lock.
-- An encrypted direct conversation is another conversation than the plain
-- one of the same pair: its direct_key starts with "e2e:".
ALTER TABLE conversations ADD COLUMN encrypted boolean NOT NULL DEFAULT false;
