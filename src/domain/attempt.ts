/**
 * Runs a store operation, turning the store's operating errors into failures. Anything else is a
 * bug and propagates, to be logged and masked as INTERNAL at the edge.
 */
import { StoreOutcomeUnknownError, StoreOverloadedError, StoreUnavailableError } from "../store/errors.js";
import { failure, success, type Outcome } from "./outcome.js";

export async function attempt<T>(operation: () => Promise<T>): Promise<Outcome<T>> {
  try {
    return success(await operation());
  } catch (error) {
    if (error instanceof StoreUnavailableError) return failure({ kind: "unavailable", message: error.message });
    if (error instanceof StoreOutcomeUnknownError) return failure({ kind: "outcome_unknown", message: error.message });
    if (error instanceof StoreOverloadedError) return failure({ kind: "overloaded", message: error.message });
    throw error;
  }
}
