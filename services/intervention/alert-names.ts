// Alertmanager `alertname`s of Foreshock's alerts, one per family of event that opens one.

export const ALERTNAME_ANOMALY = 'ForeshockAnomaly';
export const ALERTNAME_FORECAST = 'ForeshockForecastBreach';
export const ALERTNAME_SATURATION = 'ForeshockSaturation';
