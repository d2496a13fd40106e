/**
 * Upcasters turn data written under an older contract version into the shape of a newer one,
 * so a consumer sees one version only. They live in TypeScript (not in contract files) because
 * they are code; a contract file lists the versions it can be reached from in `upcastFrom`.
 */

/**
 * Moves data of `contract` from version `from` to version `to`. Must be pure and must not
 * mutate its input (the same object may be delivered to several subscriptions).
 *
 * @example
 * const u: Upcaster = { contract: 'sensor.reading', from: '1.0.0', to: '2.0.0', upcast: (d) => ({ ...d }) };
 */
export interface Upcaster<From = any, To = any> {
  contract: string;
  from: string;
  to: string;
  upcast(data: From): To;
}

/** sensor.reading 1.0.0, as older devices and gateways still send it. */
export interface SensorReadingV1 {
  sensor: string;
  /** RFC 3339 time of the reading. */
  timestamp: string;
  /** °C */
  temp: number;
  /** Relative humidity, % */
  rh: number;
  location?: string;
}

/** sensor.reading 2.0.0: camelCase names, epoch-millisecond time, optional device metadata. */
export interface SensorReadingV2 {
  deviceId: string;
  /** Epoch milliseconds. */
  ts: number;
  /** °C */
  temperature: number;
  /** Relative humidity, % */
  humidity: number;
  site?: string;
  seq?: number;
  firmware?: string;
  battery?: number;
  status?: 'ok' | 'degraded' | 'fault';
  tags?: string[];
}

/**
 * sensor.reading 1.0.0 → 2.0.0: `sensor` → `deviceId`, `timestamp` (RFC 3339) → `ts` (epoch ms),
 * `temp` → `temperature`, `rh` → `humidity`, `location` → `site`.
 */
export const sensorReadingV1ToV2: Upcaster<SensorReadingV1, SensorReadingV2> = {
  contract: 'sensor.reading',
  from: '1.0.0',
  to: '2.0.0',
  upcast(v1) {
    const v2: SensorReadingV2 = { deviceId: v1.sensor, ts: Date.parse(v1.timestamp), temperature: v1.temp, humidity: v1.rh };
    if (v1.location !== undefined) v2.site = v1.location;
    return v2;
  },
};

/** The upcasters of the standard contracts; a registry starts with these unless told otherwise. */
export const standardUpcasters: readonly Upcaster[] = [sensorReadingV1ToV2];
