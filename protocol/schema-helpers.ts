// Valibot building blocks shared by the Raft codec (codec.ts) and the client and peer
// frame schemas (wire-schema.ts), so both speak of a bad field in the same words.

import * as v from 'valibot';
import { utf8Length, utf8LongerThan } from './bytes.ts';

/** A non-negative safe integer: indexes, terms, ids, sizes. */
export const count = v.pipe(
  v.number('must be a number'),
  v.safeInteger('must be a non-negative safe integer'),
  v.minValue(0, 'must be a non-negative safe integer'),
);

export const flag = v.boolean('must be a boolean');

/** A string of at most `bytesMax` UTF-8 bytes and, unless `minBytes` is 0, not empty. */
export function text(bytesMax: number, minBytes = 1) {
  const checks = minBytes > 0 ? [v.minLength<string, number, string>(minBytes, 'must not be empty')] : [];
  return v.pipe(
    v.string('must be a string'),
    ...checks,
    // valibot's maxBytes encodes every string to count its bytes; most are short enough
    // that their length alone proves the bound.
    v.check(
      (value: string) => !utf8LongerThan(value, bytesMax),
      (issue) => `must be at most ${bytesMax} bytes of UTF-8, got ${utf8Length(issue.input as string)} bytes`,
    ),
  );
}

/**
 * Binary of at most `bytesMax` bytes. Decoded binary is a view of the frame's buffer
 * (transports hand over a fresh buffer per message and never write to it again). A view
 * of less than half its buffer is copied out, so a small field kept for long (a log
 * entry) does not pin a large frame; a field that is most of its frame (a block, a
 * snapshot) stays a view, which spares a copy of every block on every hop.
 */
export function binary(bytesMax: number) {
  return v.pipe(binaryView(bytesMax), v.transform(detachSmall));
}

/**
 * Binary of at most `bytesMax` bytes that stays a view of its frame however small: for
 * the blocks of a batch, which together make up their frame and are dropped once stored.
 * Copying each out (as `binary` would) was most of a node's garbage under small uploads.
 */
export function binaryView(bytesMax: number) {
  return v.pipe(
    v.instance(Uint8Array, 'must be binary (msgpack bin)'),
    v.maxLength(bytesMax, `must be at most ${bytesMax} bytes`),
    v.transform((bytes): Uint8Array => bytes),
  );
}

/** `bytes` itself when it is at least half of its buffer, else a copy that owns its buffer. */
function detachSmall(bytes: Uint8Array): Uint8Array {
  return bytes.byteLength * 2 >= bytes.buffer.byteLength ? bytes : bytes.slice();
}

type VariantOption = v.VariantOptions<string>[number];

/**
 * `v.variant`, with the option for a message found by its discriminator's value instead
 * of tried in turn: valibot runs every option's discriminator check on each parse, which
 * showed in profiles of busy nodes, where every frame is parsed. A value that names no
 * option (or more than one) goes through valibot's own variant, so error messages are
 * unchanged.
 */
export function variant<const TKey extends string, const TOptions extends v.VariantOptions<TKey>, const TMessage extends v.ErrorMessage<v.VariantIssue> | undefined>(
  key: TKey,
  options: TOptions,
  message: TMessage,
): v.VariantSchema<TKey, TOptions, TMessage> {
  const schema = v.variant(key, options, message);
  const byValue = new Map<unknown, VariantOption>();
  const ambiguous = new Set<unknown>();
  for (const option of options) {
    // A nested variant's options may all share one value (every request frame is `type:
    // 'request'`); that is one option accepting it, not several.
    for (const value of new Set(discriminatorValues(option, key))) {
      if (byValue.has(value)) ambiguous.add(value);
      byValue.set(value, option);
    }
  }
  for (const value of ambiguous) byValue.delete(value);
  const slow = schema['~run'].bind(schema);
  const fast: typeof slow = (dataset, config) => {
    const input = dataset.value;
    const option = input !== null && typeof input === 'object' ? byValue.get((input as Record<string, unknown>)[key]) : undefined;
    return option ? (option['~run'](dataset, config) as ReturnType<typeof slow>) : slow(dataset, config);
  };
  return { ...schema, '~run': fast };
}

// The values of `key` an option accepts: its literal, or those of a nested variant's options.
function discriminatorValues(option: VariantOption, key: string): unknown[] {
  if (option.type === 'variant') return (option.options as VariantOption[]).flatMap((nested) => discriminatorValues(nested, key));
  const entry = (option.entries as Record<string, v.GenericSchema>)[key];
  return entry?.type === 'literal' ? [(entry as v.LiteralSchema<v.Literal, undefined>).literal] : [];
}
