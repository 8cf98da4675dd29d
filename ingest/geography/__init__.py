"""Reference geography for NHS organisations: ICBs, NHS England regions, postcode districts."""
