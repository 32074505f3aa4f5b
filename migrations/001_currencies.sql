-- Currencies and their ISO 4217 minor units. The scale of a currency is fixed
-- once amounts exist in it (TigerBeetle's "asset scale"), so rows here are
-- only ever added. internal/money holds the same table; a test keeps the two equal.
CREATE TABLE currencies (
    code        text     NOT NULL,
    minor_units smallint NOT NULL,
    CONSTRAINT currencies_pkey PRIMARY KEY (code),
    CONSTRAINT currencies_code_format CHECK (code ~ '^[A-Z]{3}$'),
    CONSTRAINT currencies_minor_units_range CHECK (minor_units BETWEEN 0 AND 6),
    CONSTRAINT currencies_code_minor_units_key UNIQUE (code, minor_units)
);

INSERT INTO currencies (code, minor_units) VALUES
    ('AUD', 2), ('BHD', 3), ('CAD', 2), ('CHF', 2), ('CLP', 0), ('CNY', 2), ('CZK', 2),
    ('DKK', 2), ('EUR', 2), ('GBP', 2), ('HKD', 2), ('HUF', 2), ('IDR', 2), ('INR', 2),
    ('ISK', 0), ('JOD', 3), ('JPY', 0), ('KRW', 0), ('KWD', 3), ('MOP', 2), ('MXN', 2),
    ('MYR', 2), ('NOK', 2), ('NZD', 2), ('OMR', 3), ('PHP', 2), ('PLN', 2), ('SEK', 2),
    ('SGD', 2), ('THB', 2), ('TND', 3), ('TWD', 2), ('USD', 2), ('VND', 0), ('ZAR', 2);
