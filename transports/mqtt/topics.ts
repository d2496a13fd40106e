/**
 * Subjects <-> MQTT topics (DESIGN.md section 4): `.` <-> `/`, `*` <-> `+`, `>` <-> `+/#`
 * (MQTT's `#` alone would also match the parent level, which `>` does not). Consumer groups are
 * shared subscriptions, `$share/<group>/<filter>`.
 */
import { fromMqttTopic, OptionsInvalidError, SubjectInvalidError, toMqttTopic, validatePattern, validateSubject } from '../../core/index.js';

const topicCache = new Map<string, string>();
const subjectCache = new Map<string, string>();
const CACHE_LIMIT = 10_000;

/**
 * The MQTT topic of a concrete subject (cached: publishers reuse a few subjects).
 * @example subjectToTopic('sensor.reading.berlin') // 'sensor/reading/berlin'
 */
export function subjectToTopic(subject: string): string {
  let topic = topicCache.get(subject);
  if (topic === undefined) {
    validateSubject(subject);
    topic = toMqttTopic(subject);
    if (topicCache.size >= CACHE_LIMIT) topicCache.clear();
    topicCache.set(subject, topic);
  }
  return topic;
}

/**
 * The canonical subject of a concrete topic, or undefined when a level cannot be a subject token
 * (e.g. it holds `.` or a space).
 * @example topicToSubject('devices/sensor-7/telemetry') // 'devices.sensor-7.telemetry'
 */
export function topicToSubject(topic: string): string | undefined {
  let subject = subjectCache.get(topic);
  if (subject !== undefined) return subject;
  try { subject = fromMqttTopic(topic); } catch (err) {
    if (err instanceof SubjectInvalidError) return undefined;
    throw err;
  }
  if (subjectCache.size >= CACHE_LIMIT) subjectCache.clear();
  subjectCache.set(topic, subject);
  return subject;
}

/**
 * The MQTT topic filter of a subject pattern.
 * @example patternToFilter('sensor.*.berlin') // 'sensor/+/berlin'; patternToFilter('a.>') // 'a/+/#'
 */
export function patternToFilter(pattern: string): string {
  validatePattern(pattern);
  return toMqttTopic(pattern);
}

/** Throws OptionsInvalidError unless `group` can name a shared subscription. */
export function validateGroupName(group: string): void {
  if (group.length === 0 || /[/+#\s]/.test(group)) {
    throw new OptionsInvalidError(`consumer group "${group}" must be non-empty without "/", "+", "#" or whitespace (it becomes $share/<group>/…)`,
      { details: { field: 'group', group } });
  }
}

/**
 * The filter a subscription sends to the broker: shared when it has a group.
 * @example brokerFilter('sensor/#', 'ingest') // '$share/ingest/sensor/#'
 */
export function brokerFilter(filter: string, group: string | undefined): string {
  if (group === undefined) return filter;
  validateGroupName(group);
  return `$share/${group}/${filter}`;
}

/**
 * Whether a concrete topic matches an MQTT filter (`+` one level, `#` the rest including the parent).
 * Used on MQTT 3.1.1, where messages carry no subscription identifier.
 */
export function topicMatchesFilter(filter: string, topic: string): boolean {
  if (filter === topic) return true;
  const f = filter.split('/');
  const t = topic.split('/');
  for (let i = 0; i < f.length; i++) {
    const level = f[i]!;
    if (level === '#') return i === 0 ? !topic.startsWith('$') : t.length >= i;
    if (i >= t.length) return false;
    if (level === '+') { if (i === 0 && t[0]!.startsWith('$')) return false; continue; }
    if (level !== t[i]) return false;
  }
  return f.length === t.length;
}
