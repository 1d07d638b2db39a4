/**
 * How the PostgreSQL store classifies a failure: retried inside the store, or told to the caller
 * as unavailable with a message that carries no SQL and says whether the write may have landed.
 */
import { expect } from "chai";
import { describeFailure, isRetryable, unavailable } from "../../src/store/postgres/private/errors.js";
import { StoreUnavailableError } from "../../src/store/errors.js";

const withCode = (code: string | undefined, message = 'ERROR: relation "entries" SELECT * FROM secret') =>
  Object.assign(new Error(message), code === undefined ? {} : { code });

describe("PostgreSQL failure classification", () => {
  it("retries serialization failures and deadlocks, nothing else", () => {
    expect(isRetryable(withCode("40001"))).to.equal(true);
    expect(isRetryable(withCode("40P01"))).to.equal(true);
    for (const code of ["23505", "57014", "08006", undefined])
      expect(isRetryable(withCode(code)), String(code)).to.equal(false);
  });

  it("says a write was not applied when the server refused it, even at COMMIT", () => {
    expect(describeFailure(withCode("57014"), "before-commit")).to.equal(
      "the ledger's database did not answer in time; the write was not applied",
    );
    expect(describeFailure(withCode("53300"), "before-commit")).to.match(
      /refused more connections; the write was not applied/,
    );
    expect(describeFailure(withCode("08006"), "before-commit")).to.match(/unreachable; the write was not applied/);
    expect(describeFailure(withCode("40001"), "commit")).to.match(/contended; the write was not applied/);
  });

  it("says the outcome is unknown when the connection died before COMMIT was answered", () => {
    for (const error of [
      withCode(undefined, "Connection terminated unexpectedly"),
      withCode("ECONNRESET"),
      withCode("EPIPE"),
    ]) {
      expect(describeFailure(error, "commit")).to.match(/may have been applied: retry with the same idempotency key/);
    }
  });

  it("answers reads as failed reads, and never carries the driver's text", () => {
    expect(describeFailure(withCode("57014"), "read")).to.equal(
      "the ledger's database did not answer in time; the read failed",
    );
    const mapped = unavailable(withCode("XX000"), "before-commit");
    expect(mapped).to.be.instanceOf(StoreUnavailableError);
    expect(mapped.message).to.equal("the ledger could not commit; the write was not applied");
    expect(mapped.message).to.not.match(/SELECT|relation|secret/);
    // A store error passes through as it is.
    const own = new StoreUnavailableError("the ledger is shutting down");
    expect(unavailable(own, "read")).to.equal(own);
  });
});
