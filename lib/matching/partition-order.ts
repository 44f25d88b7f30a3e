import { compareSlots, copySlot, ID_NUMBER, ID_STRING, type IdSlot, newIdSlot } from './ids.js';
import { isRecordObject } from './normalise.js';
import { partitionPath, readPartitionInto } from './partition-values.js';

/**
 * In-memory inputs (the command line's files) may list partitions in any order, but the matcher
 * reads partitions in ascending order. This is the order a `(partition)` index would return them
 * in: a stable sort by partition value in BSON order, records without a usable partition value
 * first (they are rejected as they are read). Linear: records are counted into their partition's
 * slot, and only the distinct partition values are sorted.
 *
 * Returns the indices of `records` in that order.
 */
export function partitionOrder(records: readonly unknown[], field: string): Int32Array {
  const path = partitionPath(field);
  const partitions = new PartitionIndex();
  const slot = newIdSlot();
  // Group 0 holds the records without a usable partition value; group g + 1 is partition g.
  const groupOf = new Int32Array(records.length);
  for (let i = 0; i < records.length; i++) {
    const record = records[i];
    const usable = isRecordObject(record) && readPartitionInto(record, path, field, slot) === undefined;
    groupOf[i] = usable ? partitions.groupOf(slot) + 1 : 0;
  }
  const rank = partitions.ranks();
  const start = new Int32Array(rank.length + 2);
  for (let i = 0; i < records.length; i++) {
    const g = groupOf[i] as number;
    const r = g === 0 ? 0 : (rank[g - 1] as number) + 1;
    groupOf[i] = r;
    start[r + 1] = (start[r + 1] as number) + 1;
  }
  for (let r = 1; r < start.length; r++) start[r] = (start[r] as number) + (start[r - 1] as number);
  const order = new Int32Array(records.length);
  for (let i = 0; i < records.length; i++) {
    const r = groupOf[i] as number;
    order[start[r] as number] = i;
    start[r] = (start[r] as number) + 1;
  }
  return order;
}

/** `records` in the given order, as an iterable that copies nothing. */
export function* inOrder(records: readonly unknown[], order: Int32Array): Iterable<unknown> {
  for (let k = 0; k < order.length; k++) yield records[order[k] as number];
}

/** Distinct partition values, numbered in order of first appearance. */
class PartitionIndex {
  private readonly numbers = new Map<number, number>();
  private readonly strings = new Map<string, number>();
  private readonly objectIds = new Map<string, number>();
  private readonly values: IdSlot[] = [];

  groupOf(slot: IdSlot): number {
    const map =
      slot.kind === ID_NUMBER ? this.numbers : slot.kind === ID_STRING ? this.strings : this.objectIds;
    const key = slot.kind === ID_NUMBER ? slot.num : slot.str;
    let group = (map as Map<number | string, number>).get(key);
    if (group === undefined) {
      group = this.values.length;
      (map as Map<number | string, number>).set(key, group);
      const value = newIdSlot();
      copySlot(slot, value);
      this.values.push(value);
    }
    return group;
  }

  /** Rank of each group when the partition values are sorted in BSON order. */
  ranks(): Int32Array {
    const groups = this.values.map((_, group) => group);
    groups.sort((a, b) => compareSlots(this.values[a] as IdSlot, this.values[b] as IdSlot));
    const rank = new Int32Array(groups.length);
    groups.forEach((group, r) => {
      rank[group] = r;
    });
    return rank;
  }
}
