-- The weight version the models read (var production_weights_version) must exist, or every P would be
-- missing for a reason nobody would guess. An empty weights seed means no indices are configured (a test
-- project without them) and passes.
select '{{ var("production_weights_version", "v2") }}' as missing_weights_version
where
    exists (select 1 from {{ ref('production_weights') }})
    and not exists (
        select 1 from {{ ref('production_weights') }}
        where weights_version = '{{ var("production_weights_version", "v2") }}'
    )
