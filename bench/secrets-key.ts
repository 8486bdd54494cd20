// Imported first by every benchmark that starts a gateway (in process or as a child, which inherits
// the environment): webhook secrets are sealed with SECRETS_ENCRYPTION_KEY and the gateway refuses
// to start without one. A benchmark's database is thrown away, so a random key of its own will do.
import { newEncryptionKey } from '@fairlabel/db';

process.env.SECRETS_ENCRYPTION_KEY ??= newEncryptionKey();
