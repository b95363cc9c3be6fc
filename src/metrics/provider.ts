// The metrics provider (Fabric's common/metrics): components ask it for counters, gauges and
// histograms by Fabric's options (namespace, subsystem, name, labels) and never know whether the
// values go to Prometheus or nowhere. Metrics.Provider: prometheus -> PrometheusProvider with its
// own registry (served at /metrics by the operations server); disabled -> DisabledProvider.
import * as prom from 'prom-client';
import type { Logger } from '../logging.js';

export type Labels = Readonly<Record<string, string>>;

export interface MetricOptions {
  namespace: string;
  subsystem?: string;
  name: string;
  help: string;
  labelNames?: readonly string[];
}

export interface HistogramOptions extends MetricOptions {
  /** Upper bounds in seconds; default Prometheus' DefBuckets, as Fabric. */
  buckets?: readonly number[];
}

export interface Counter {
  add(delta: number, labels?: Labels): void;
}

export interface Gauge {
  set(value: number, labels?: Labels): void;
  add(delta: number, labels?: Labels): void;
  /** Drops the series with these labels (e.g. of a channel that was removed). */
  remove?(labels: Labels): void;
}

export interface Histogram {
  observe(value: number, labels?: Labels): void;
}

export interface MetricsProvider {
  readonly kind: 'prometheus' | 'disabled';
  newCounter(options: MetricOptions): Counter;
  newGauge(options: MetricOptions): Gauge;
  newHistogram(options: HistogramOptions): Histogram;
}

/** A provider whose values can be scraped (GET /metrics). */
export interface MetricsExposition {
  readonly contentType: string;
  /** All metrics in the Prometheus text exposition format. */
  scrape(): Promise<string>;
}

/** Prometheus' DefBuckets, which Fabric's histograms use unless they say otherwise. */
export const DEFAULT_BUCKETS: readonly number[] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** Fabric's fully qualified name: namespace_subsystem_name, empty parts left out. */
export function fullyQualifiedName(options: MetricOptions): string {
  return [options.namespace, options.subsystem, options.name].filter((part) => part).join('_');
}

export class PrometheusProvider implements MetricsProvider, MetricsExposition {
  readonly kind = 'prometheus' as const;
  readonly registry = new prom.Registry();

  /** processMetrics: prom-client's process and Node.js runtime metrics (as Fabric's go_* ones). */
  constructor(options: { processMetrics?: boolean } = {}) {
    if (options.processMetrics ?? true) prom.collectDefaultMetrics({ register: this.registry });
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  scrape(): Promise<string> {
    return this.registry.metrics();
  }

  newCounter(options: MetricOptions): Counter {
    const counter = new prom.Counter({ ...this.common(options) });
    return { add: (delta, labels) => (labels ? counter.inc(labels, delta) : counter.inc(delta)) };
  }

  newGauge(options: MetricOptions): Gauge {
    const gauge = new prom.Gauge({ ...this.common(options) });
    return {
      set: (value, labels) => (labels ? gauge.set(labels, value) : gauge.set(value)),
      add: (delta, labels) => (labels ? gauge.inc(labels, delta) : gauge.inc(delta)),
      remove: (labels) => gauge.remove(labels),
    };
  }

  newHistogram(options: HistogramOptions): Histogram {
    const histogram = new prom.Histogram({
      ...this.common(options),
      buckets: [...(options.buckets ?? DEFAULT_BUCKETS)],
    });
    return {
      observe: (value, labels) => (labels ? histogram.observe(labels, value) : histogram.observe(value)),
    };
  }

  private common(options: MetricOptions) {
    return {
      name: fullyQualifiedName(options),
      help: options.help,
      labelNames: [...(options.labelNames ?? [])],
      registers: [this.registry],
    };
  }
}

const noop = () => {};

export class DisabledProvider implements MetricsProvider {
  readonly kind = 'disabled' as const;
  newCounter(): Counter {
    return { add: noop };
  }
  newGauge(): Gauge {
    return { set: noop, add: noop, remove: noop };
  }
  newHistogram(): Histogram {
    return { observe: noop };
  }
}

export function isExposition(provider: MetricsProvider): provider is MetricsProvider & MetricsExposition {
  return typeof (provider as Partial<MetricsExposition>).scrape === 'function';
}

/**
 * The provider for Metrics.Provider. statsd is not implemented: it is reported and metrics are
 * disabled, as Fabric does for an unknown provider.
 */
export function createMetricsProvider(
  options: { provider: string; processMetrics?: boolean },
  deps: { logger: Logger },
): MetricsProvider {
  switch (options.provider) {
    case 'prometheus':
      return new PrometheusProvider(
        options.processMetrics === undefined ? {} : { processMetrics: options.processMetrics },
      );
    case 'disabled':
      return new DisabledProvider();
    case 'statsd':
      deps.logger.warn(
        'Metrics.Provider "statsd" is not supported by this orderer; metrics are disabled. Use "prometheus" and scrape /metrics on the operations endpoint',
      );
      return new DisabledProvider();
    default:
      deps.logger.warn(
        { provider: options.provider },
        'unknown Metrics.Provider; metrics are disabled. Use "prometheus" or "disabled"',
      );
      return new DisabledProvider();
  }
}
