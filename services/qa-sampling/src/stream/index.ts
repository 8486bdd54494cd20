export * from './aggregator.js';
