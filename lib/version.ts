/** The clipcmp version, recorded in every JSON document and report. */
export const VERSION = "0.1.0";
