/**
 * A self-signed certificate for localhost, made by openssl into `dir`, for the tests that serve
 * over TLS. Valid for two days, with subject alternative names so clients that check the name
 * (grpc-js, node:https) accept it when told to trust it.
 */
import { spawnSync } from "node:child_process";
import { join } from "node:path";

export interface CertificateFiles {
  readonly cert: string;
  readonly key: string;
}

export function makeCertificate(dir: string): CertificateFiles {
  const cert = join(dir, "cert.pem");
  const key = join(dir, "key.pem");
  const made = spawnSync(
    "openssl",
    [
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-days",
      "2",
      "-subj",
      "/CN=localhost",
      "-addext",
      "subjectAltName=DNS:localhost,IP:127.0.0.1",
      "-keyout",
      key,
      "-out",
      cert,
    ],
    { encoding: "utf8" },
  );
  if (made.status !== 0) throw new Error(`openssl failed: ${made.stderr}`);
  return { cert, key };
}
