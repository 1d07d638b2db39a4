/**
 * The Connect protocol's JSON error body, as connect's `errorToJsonBytes` writes it, with each
 * detail's `debug` JSON made by the compiled encoder (./json-encode.ts) instead of protobuf-es's
 * reflection. Half the wallet's calls are refused debits, and connect's version of this was 6.6%
 * of the HTTP/1.1 wallet's server time (bench/README.md).
 *
 * Byte for byte the same body: `code`, then `message` when there is one, then `details`, each
 * with its `type`, `debug` (left out when it cannot be encoded) and `value` (the detail in binary
 * protobuf, base64 without padding), in that key order. Anything unexpected is handed to connect's
 * own function, so its failures read the same. test/unit/json-encode.test.ts compares both.
 */
import { create, toBinary, toJson, type JsonValue, type JsonWriteOptions, type Message } from "@bufbuild/protobuf";
import { Code, type ConnectError } from "@connectrpc/connect";
import { codeToString, errorToJsonBytes } from "@connectrpc/connect/protocol-connect";
import { compileToJson } from "./json-encode.js";

type Detail = ConnectError["details"][number];

/** connect's `codeToString` of every code, made once: it rebuilds the name with a regex per call. */
const CODE_NAMES = new Map(
  Object.values(Code)
    .filter((code): code is Code => typeof code === "number")
    .map((code) => [code, codeToString(code)]),
);

interface DetailJson {
  readonly type: string;
  readonly debug?: JsonValue;
  readonly value: string;
}

/** connect's `base64Encode(bytes, "std_raw")`: the standard alphabet, no padding. */
function base64Raw(bytes: Uint8Array): string {
  const padded = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64");
  const end = padded.endsWith("==") ? -2 : padded.endsWith("=") ? -1 : padded.length;
  return padded.slice(0, end);
}

function detailJson(detail: Detail, options: Partial<JsonWriteOptions>): DetailJson {
  if (!("desc" in detail)) {
    // A detail received from elsewhere, passed on as it came.
    const { value, ...rest } = detail;
    return { ...rest, value: base64Raw(value) };
  }
  const message = create(detail.desc, detail.value) as Message;
  const value = base64Raw(toBinary(detail.desc, message));
  let debug: JsonValue | undefined;
  try {
    const encode = compileToJson(detail.desc, options);
    debug = encode === undefined ? toJson(detail.desc, message, options) : encode(message);
  } catch {
    // As connect: the debug form is optional, and a detail that cannot be encoded goes without it.
  }
  return debug === undefined ? { type: detail.desc.typeName, value } : { type: detail.desc.typeName, debug, value };
}

/** The bytes of connect's `errorToJsonBytes(error, options)`. */
export function errorJsonBytes(error: ConnectError, options: Partial<JsonWriteOptions>): Uint8Array {
  try {
    const json: { code: string; message?: string; details?: DetailJson[] } = {
      code: CODE_NAMES.get(error.code) ?? codeToString(error.code),
    };
    if (error.rawMessage.length > 0) json.message = error.rawMessage;
    if (error.details.length > 0) json.details = error.details.map((detail) => detailJson(detail, options));
    return Buffer.from(JSON.stringify(json), "utf8");
  } catch {
    return errorToJsonBytes(error, options);
  }
}
