"""analyses layer: the SAP's analyses, one function per analysis id, each returning ARD rows.

Safety (ICH E3 section 14.3; :mod:`msc_analysis.analyses.safety` runs them all):

- :mod:`~msc_analysis.analyses.safety_data` -- Safety Set, groups and derived ADAE / ADLB;
- :mod:`~msc_analysis.analyses.safety_ae` -- SAF-AEOV, SAF-AESOCPT, SAF-AEGRADE, SAF-AEREL,
  SAF-AESER, SAF-AESESS;
- :mod:`~msc_analysis.analyses.safety_lab` -- SAF-LBSUM, SAF-LBSHIFT, SAF-LBG3;
- :mod:`~msc_analysis.analyses.safety_exposure` -- SAF-EXPO, SAF-VS;
- :mod:`~msc_analysis.analyses.safety_monitoring` -- SAF-MON, SAF-MONBND, SAF-MONOC;
- :mod:`~msc_analysis.analyses.safety_listings` -- listings 16.2.7.1-16.2.7.3 and 16.2.8.1;
- :mod:`~msc_analysis.analyses.command` -- the ``safety`` verb of the command line.

Modules are imported where used (nothing is imported here), so that importing one analysis does
not load the others.
"""
