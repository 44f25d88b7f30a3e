import { compareSlots, copySlot, ID_NUMBER, ID_STRING, type IdSlot, newIdSlot } from './ids.js';
import { isRecordObject, notAnObjectReason } from './normalise.js';
import { partitionPath, readPartitionInto } from './partition-values.js';
import type { MatchSession } from './session.js';

/**
 * In-memory partitioning for {@link matchRecords}: both collections are grouped by partition value
 * (in any input order) and the partitions are fed to the session in BSON order of their values.
 * Records without a usable partition value are rejected here.
 */
export function feedPartitioned(
  session: MatchSession,
  accruals: readonly unknown[],
  payments: readonly unknown[],
  field: string,
): void {
  const groups = new PartitionIndex();
  const path = partitionPath(field);
  const accrualGroup = assignGroups(session, accruals, 'accrual', path, field, groups);
  const paymentGroup = assignGroups(session, payments, 'payment', path, field, groups);
  const rankOfGroup = groups.ranks();
  const accrualRows = session.readPartitioned('accrual', accruals, accrualGroup, rankOfGroup);
  const paymentRows = session.readPartitioned('payment', payments, paymentGroup, rankOfGroup);
  for (let rank = 0; rank < rankOfGroup.length; rank++) {
    session.beginPartition();
    session.acceptPartitionRows(accrualRows, rank);
    session.acceptPartitionRows(paymentRows, rank);
    session.endPartition();
  }
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

/** Group per record (-1 for records rejected here). */
function assignGroups(
  session: MatchSession,
  records: readonly unknown[],
  source: 'accrual' | 'payment',
  path: readonly string[],
  field: string,
  groups: PartitionIndex,
): Int32Array {
  const slot = newIdSlot();
  const groupOf = new Int32Array(records.length);
  for (let i = 0; i < records.length; i++) {
    const record = records[i];
    const reason = isRecordObject(record)
      ? readPartitionInto(record, path, field, slot)
      : notAnObjectReason(record);
    if (reason === undefined) {
      groupOf[i] = groups.groupOf(slot);
    } else {
      groupOf[i] = -1;
      session.rejectRead(source, record, i, reason);
    }
  }
  return groupOf;
}
