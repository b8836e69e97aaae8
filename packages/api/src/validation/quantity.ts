// Quantities as validation compares them: the exact parser of ../quantity.ts, read as a number
// (validation only orders requests, limits and capacities, where float precision is plenty).
import { QUANTITY_REGEX_MESSAGE, tryParseQuantity } from '../quantity.js';

export const QUANTITY_FORMAT_ERROR = QUANTITY_REGEX_MESSAGE;

/** The value of a quantity (a JSON string or number), or undefined when malformed. */
export function quantityValue(value: unknown): number | undefined {
  const q = tryParseQuantity(value);
  return q === undefined ? undefined : Number(q.nanos) / 1e9;
}
