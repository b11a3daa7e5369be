// Public surface of the NAB benchmark kit: file formats (reused by `foreshock replay --nab`),
// NAB's scorer, the corpus loader and the detectors the benchmark can run.

export * from '../../shared/codecs/nab-csv.js';
export * from './scorer.js';
export * from './corpus.js';
export * from './detectors.js';
